"""Every shipped generator: its recorded fidelity, recomputed from the file."""

import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.domains import fidelity

# The domains whose generator ships with the package (a domain that shares
# another's renderer shares its generator: faces_glasses, cars_fine); the
# others' loading is refused with a message (tests/domains/registry_test.py).
SHIPPED = (pytest.param('faces', marks=pytest.mark.fast),)


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_generator_reproduces_its_recorded_psnr(name):
  domain = domains.get(name)
  gen = domain.load_generator()
  assert gen.config.resolution == domain.resolution
  assert gen.config.z_dim == domain.z_dim
  assert gen.metadata['class_names'] == list(domain.renderer.CLASS_NAMES)
  check = gen.metadata['psnr_check']
  assert len(check['seeds']) == 8
  assert set(check['seeds']) <= set(domain.eval_seeds)  # held out
  psnr = fidelity.psnr(domain, gen, domain.latents(check['seeds']))
  assert abs(psnr - check['psnr_db']) < 0.05, (psnr, check)
  assert gen.metadata['fidelity']['psnr_db'] >= 25.0
  size = sum(f.stat().st_size for f in domain.generator_dir.rglob('*')
             if f.is_file())
  assert size < 15 * 2**20

"""`stylegan-seg convert`: a StyleGAN2 checkpoint to a generator directory.

Reads a rosinality `.pt`, an NVIDIA stylegan2-ada-pytorch / stylegan3 `.pkl`
or an NVIDIA TensorFlow `.pkl` without torch, TensorFlow or the original code,
and writes OUT/generator.json plus an orbax checkpoint OUT/variables/.

  stylegan-seg convert --src=stylegan2-ffhq-config-f.pt --out=ffhq
  stylegan-seg convert --src=ffhq.pkl --out=ffhq256 --resolution=256

Load the result with `stylegan_seg_jax.stylegan2.load(OUT)`, or name it in a
config as `--config.generator_dir=OUT`. `convert_weights.py` at the
repository root runs this command from a checkout.
"""

from __future__ import annotations

from absl import flags

from stylegan_seg_jax.commands import bootstrap

__all__ = ['run']

_SRC = flags.DEFINE_string('src', None, 'Checkpoint file (.pt or .pkl).')
_OUT = bootstrap.out_flag()
_FORMAT = flags.DEFINE_enum('format', 'auto',
                            ['auto', 'rosinality', 'nvidia', 'tf'],
                            'Source format; auto detects it from the file.')
_RESOLUTION = flags.DEFINE_integer(
    'resolution', None, "Keep only the generator's blocks up to this "
    'resolution (what --config.resolution runs).')
_OVERWRITE = bootstrap.overwrite_flag()
_W_AVG_SEED = flags.DEFINE_integer(
    'w_avg_seed', 0, 'Seed of the w_avg estimate when the source has none.')


def main(argv: list[str]) -> None:
  """Converts --src into --out."""
  del argv
  from stylegan_seg_jax import convert  # pylint: disable=g-import-not-at-top
  convert.convert_file(
      bootstrap.given(_SRC), bootstrap.given(_OUT), fmt=_FORMAT.value,
      resolution=_RESOLUTION.value, overwrite=_OVERWRITE.value,
      w_avg_seed=_W_AVG_SEED.value,
      log=lambda msg: print(msg, flush=True))


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='convert', argv=argv,
                expected=(ValueError, OSError), required=('src', 'out'),
                local_paths=('src',))

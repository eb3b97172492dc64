"""The package installs into a fresh virtual environment and runs from there.

`pip install .` (a wheel) and `pip install -e .` each go into a new venv
that sees the dependencies of the project's .venv through a `.pth` file (so
nothing is downloaded); a tool then runs from a directory outside the
checkout and must import the installed package, with its package data.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def _venv(path: pathlib.Path) -> pathlib.Path:
  """A new venv whose only extra path is this interpreter's site-packages
  (the pinned dependencies, pip and setuptools), appended after its own."""
  subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(path)],
                 check=True)
  python = path / 'bin' / 'python'
  purelib = subprocess.run(
      [str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()'
       '["purelib"])'], capture_output=True, text=True, check=True)
  deps = sysconfig.get_paths()['purelib']
  pathlib.Path(purelib.stdout.strip(), 'deps.pth').write_text(deps + '\n')
  return python


def _pip(python: pathlib.Path, *args: str, cwd: pathlib.Path):
  return subprocess.run(
      [str(python), '-m', 'pip', 'install', '-q', '--no-deps',
       '--no-build-isolation', '--disable-pip-version-check', *args],
      cwd=cwd, capture_output=True, text=True)


def _clean_env() -> dict[str, str]:
  env = {k: v for k, v in os.environ.items()
         if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
  env['JAX_PLATFORMS'] = 'cpu'
  return env


def _check_installed(python: pathlib.Path, elsewhere: pathlib.Path,
                     expect_under: pathlib.Path) -> None:
  where = subprocess.run(
      [str(python), '-c', 'import stylegan_seg_jax; from stylegan_seg_jax '
       'import domains; print(stylegan_seg_jax.__file__); '
       "print(domains.get('faces').generator_dir)"],
      cwd=elsewhere, capture_output=True, text=True, env=_clean_env())
  assert where.returncode == 0, where.stderr
  package_file, generator_dir = where.stdout.split()
  assert pathlib.Path(package_file).is_relative_to(expect_under), package_file
  assert (pathlib.Path(generator_dir) / 'generator.json').is_file()
  # The installed `stylegan-seg` command, and `python -m stylegan_seg_jax`.
  command = python.parent / 'stylegan-seg'
  proc = subprocess.run(
      [str(command), 'toy', 'grid', '--out=grid', '--num_samples=2'],
      cwd=elsewhere, capture_output=True, text=True, env=_clean_env())
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert (elsewhere / 'grid' / 'toy_faces_grid.png').read_bytes()[:4] == (
      b'\x89PNG')
  # A config file imports its own package (`from configs import common`)
  # wherever the command runs from.
  project = elsewhere.parent / 'project'
  shutil.copytree(ROOT / 'configs', project / 'configs',
                  ignore=shutil.ignore_patterns('__pycache__'))
  proc = subprocess.run(
      [str(command), 'train', f'--config={project / "configs" / "tiny.py"}',
       '--workdir=w', '--config.num_steps=3'], cwd=elsewhere,
      capture_output=True, text=True,
      env={**_clean_env(), 'STYLEGAN_SEG_JAX_CHECK_ARGS': '1'})
  assert proc.returncode == 0 and 'args ok' in proc.stdout, proc.stderr[-2000:]
  # The converter is part of the installed command: a missing checkpoint is
  # its one-line error.
  proc = subprocess.run(
      [str(python), '-m', 'stylegan_seg_jax', 'convert', '--src=missing.pt',
       '--out=gen'], cwd=elsewhere, capture_output=True, text=True,
      env=_clean_env())
  assert proc.returncode == 1, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines()[-1].startswith('convert: error: ')
  assert 'missing.pt' in proc.stderr and not (elsewhere / 'gen').exists()
  # The labeller's page is package data too.
  page = subprocess.run(
      [str(python), '-c', 'from stylegan_seg_jax.labeller import server; '
       'd = server.static_dir(); print(d); print(sorted(p.name for p in '
       'd.iterdir()))'], cwd=elsewhere, capture_output=True, text=True,
      env=_clean_env())
  assert page.returncode == 0, page.stderr[-2000:]
  assert pathlib.Path(page.stdout.split()[0]).is_relative_to(expect_under)
  for name in ('index.html', 'labeller.css', 'labeller.js'):
    assert name in page.stdout, page.stdout


@pytest.mark.parametrize('editable', [False, True])
def test_install_into_a_fresh_venv_and_run_elsewhere(tmp_path, editable):
  source = tmp_path / 'src'
  shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
      '.venv', '.git', 'workdirs', 'datasets', '__pycache__', '*.egg-info',
      'build'))
  python = _venv(tmp_path / 'venv')
  proc = _pip(python, *(['-e'] if editable else []), '.', cwd=source)
  assert proc.returncode == 0, proc.stderr[-2000:]
  if not editable:
    shutil.rmtree(source)  # the installed copy must stand on its own
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  _check_installed(python, elsewhere, source if editable else
                   tmp_path / 'venv')

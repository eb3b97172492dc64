"""The package's dependencies flow one way, and it imports no test code.

Layers, lowest first; a module may import its own layer and the layers
below it, never above. Binaries (the top-level modules and `toy/__main__`)
may import anything in the package.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'stylegan_seg_jax'
LAYERS = ('runtime', 'stylegan2', 'convert', 'toy', 'method', 'data', 'eval',
          'stages', 'labeller')
FORBIDDEN_ROOTS = {'configs', 'tests', 'benchmarks', 'torch', 'tensorflow',
                   'draggan'}


def _modules():
  for path in sorted(PACKAGE.rglob('*.py')):
    rel = path.relative_to(PACKAGE)
    yield rel, ast.parse(path.read_text(), str(path))


def _imports(tree):
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield alias.name
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      if node.module == 'stylegan_seg_jax':
        for alias in node.names:
          yield f'stylegan_seg_jax.{alias.name}'
      else:
        yield node.module


def _layer(rel: pathlib.Path) -> str | None:
  if len(rel.parts) == 1 or rel.name == '__main__.py':
    return None  # a binary (or the package's own __init__)
  return rel.parts[0]


@pytest.mark.parametrize('rel,tree', list(_modules()),
                         ids=lambda v: str(v) if isinstance(v, pathlib.Path)
                         else '')
def test_imports_flow_one_way(rel, tree):
  layer = _layer(rel)
  for name in _imports(tree):
    root = name.split('.')[0]
    assert root not in FORBIDDEN_ROOTS, f'{rel} imports {name}'
    if layer is None or root != 'stylegan_seg_jax':
      continue
    parts = name.split('.')
    assert len(parts) > 1, f'{rel} imports the package root'
    target = parts[1]
    assert target in LAYERS, (
        f'{rel} imports {name}: library code may not import a binary')
    assert LAYERS.index(target) <= LAYERS.index(layer), (
        f'{rel} ({layer}) imports {name} ({target}), a higher layer')


def test_every_folder_is_a_known_layer():
  folders = {p.name for p in PACKAGE.iterdir()
             if p.is_dir() and (p / '__init__.py').exists()}
  assert folders == set(LAYERS)

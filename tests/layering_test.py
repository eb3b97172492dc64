"""The package's dependencies flow one way, without cycles or test code.

Layers, lowest first; a module may import its own layer and the layers
below it, never above. `commands` (the command line and its bootstrap) is
the top layer, so no library module imports the command line. Inside a
layer, the modules import each other without a cycle (a lazy import inside
a function counts too). The package root's `__init__` imports nothing and
its `__main__` only `commands`.
"""

import ast
import pathlib

import pytest

pytestmark = pytest.mark.fast

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'stylegan_seg_jax'
LAYERS = ('runtime', 'stylegan2', 'convert', 'domains', 'method', 'data',
          'eval', 'downstream', 'stages', 'labeller', 'commands')
FORBIDDEN_ROOTS = {'configs', 'tests', 'benchmarks', 'torch', 'tensorflow',
                   'draggan'}


def _module_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts.pop()
  return '.'.join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _imports(tree: ast.AST):
  """Every imported name; `from package import module` names the module."""
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield alias.name
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      for alias in node.names:
        full = f'{node.module}.{alias.name}'
        yield full if full in MODULES else node.module


def _graph() -> dict[str, set[str]]:
  """Package module -> the package modules it imports."""
  graph = {}
  for name, path in MODULES.items():
    tree = ast.parse(path.read_text(), str(path))
    graph[name] = {t for t in _imports(tree) if t in MODULES and t != name}
  return graph


GRAPH = _graph()


def _layer(module: str) -> str | None:
  parts = module.split('.')
  return parts[1] if len(parts) > 2 or (
      len(parts) == 2 and parts[1] in LAYERS) else None


@pytest.mark.parametrize('module', sorted(MODULES))
def test_imports_flow_one_way(module):
  layer = _layer(module)
  tree = ast.parse(MODULES[module].read_text())
  for name in _imports(tree):
    root = name.split('.')[0]
    assert root not in FORBIDDEN_ROOTS, f'{module} imports {name}'
    if root != 'stylegan_seg_jax':
      continue
    target = _layer(name)
    if layer is None:  # the package root: __init__ and __main__
      assert module.endswith('__main__') and target == 'commands', (
          f'{module} imports {name}')
      continue
    assert target is not None, f'{module} imports the package root ({name})'
    if layer != 'commands':
      assert target != 'commands', (
          f'{module} ({layer}) imports the command line ({name})')
    assert LAYERS.index(target) <= LAYERS.index(layer), (
        f'{module} ({layer}) imports {name} ({target}), a higher layer')


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """One import cycle of `graph` (a list of modules, first == last)."""
  state = {}
  stack = []

  def visit(node):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state:
        found = visit(nxt)
        if found:
          return found
    stack.pop()
    state[node] = 'done'
    return None

  for node in sorted(graph):
    if node not in state:
      found = visit(node)
      if found:
        return found
  return None


def test_no_import_cycle():
  assert _cycle(GRAPH) is None, ' -> '.join(_cycle(GRAPH))


def test_the_cycle_check_finds_a_cycle():
  graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}
  assert _cycle(graph) == ['a', 'b', 'c', 'a']
  assert _cycle({'a': {'b'}, 'b': set()}) is None


def test_every_folder_is_a_known_layer():
  folders = {p.name for p in PACKAGE.iterdir()
             if p.is_dir() and (p / '__init__.py').exists()}
  assert folders == set(LAYERS)


def test_only_the_command_line_reads_flags():
  for module, path in MODULES.items():
    if _layer(module) in ('commands', None):
      continue
    text = path.read_text()
    assert 'absl import flags' not in text and 'config_flags' not in text, (
        module)

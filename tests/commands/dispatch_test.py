"""`stylegan-seg COMMAND`: one command line for every tool."""

import ast
import subprocess
import sys

import pytest

from stylegan_seg_jax import commands
from tests.helpers import ROOT
from tests.helpers import subprocess_env

PACKAGE = ROOT / 'stylegan_seg_jax'


def _run(*args, **env):
  return subprocess.run([sys.executable, '-m', 'stylegan_seg_jax', *args],
                        cwd=ROOT, capture_output=True, text=True,
                        env=subprocess_env(**env), timeout=120)


@pytest.mark.fast
def test_every_command_is_a_module_with_run():
  # Read, not imported: each command defines its flags when imported, and a
  # process runs one command (report's --workdir is a list, train's one).
  for name in commands.COMMANDS:
    tree = ast.parse((PACKAGE / 'commands' / f'{name}.py').read_text())
    assert ast.get_docstring(tree).startswith(f'`stylegan-seg {name}`')
    assert any(isinstance(node, ast.FunctionDef) and node.name == 'run'
               for node in tree.body), name


@pytest.mark.fast
def test_no_command_prints_the_list_and_exits_2():
  proc = _run()
  assert proc.returncode == 2
  assert proc.stderr.startswith('usage: stylegan-seg COMMAND')
  for name in commands.COMMANDS:
    assert f'\n  {name} ' in proc.stderr


@pytest.mark.fast
def test_help_exits_0():
  proc = _run('--help')
  assert proc.returncode == 0 and 'commands:' in proc.stdout


@pytest.mark.fast
def test_an_unknown_command_is_one_line_exit_2():
  proc = _run('trian\x1b[31m', '--config=x')
  assert proc.returncode == 2
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("stylegan-seg: error: unknown command 'trian\\x1b")
  assert 'choose from train, evaluate' in last


@pytest.mark.slow
def test_a_command_parses_its_own_flags_and_help():
  proc = _run('report', '--workdir=a', '--workdir=b',
              STYLEGAN_SEG_JAX_CHECK_ARGS='1')
  assert proc.returncode == 0 and 'args ok' in proc.stdout, proc.stderr
  # Another command's flag is not this one's.
  proc = _run('report', '--workdir=a', '--src=x.pt')
  assert proc.returncode == 2
  assert "Unknown command line flag 'src'" in proc.stderr
  # --help shows the command's own documentation.
  proc = _run('toy', '--help')
  assert '`stylegan-seg toy`' in proc.stdout, proc.stderr

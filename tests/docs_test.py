"""The README and docs/ stay true: every documented command parses, and the
cheap Python examples run.

Every `stylegan-seg COMMAND`, `python -m stylegan_seg_jax COMMAND`,
`python -m benchmarks.*` and `convert_weights.py` command in a ```bash
block is run with STYLEGAN_SEG_JAX_CHECK_ARGS=1: the tool parses its flags
and loads its config (with the overrides) exactly as for real, then stops.
Every `bash launch/*.sh` command must name an existing script.
"""

import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from stylegan_seg_jax import commands
from tests.helpers import ROOT
from tests.helpers import subprocess_env

DOCS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]


def _blocks(path: pathlib.Path, language: str) -> list[str]:
  return re.findall(rf'```{language}\n(.*?)```', path.read_text(), re.S)


def _commands(block: str) -> list[str]:
  joined = re.sub(r'\\\n\s*', ' ', block)
  out = []
  for line in joined.splitlines():
    line = re.sub(r'\s+#.*$', '', line).strip()
    if line and not line.startswith('#'):
      out.append(line)
  return out


def _documented_commands() -> list[tuple[str, str]]:
  found = []
  for path in DOCS:
    for block in _blocks(path, 'bash'):
      for command in _commands(block):
        found.append((path.name, command))
  return found


COMMANDS = _documented_commands()
TOOLS = [(f, c) for f, c in COMMANDS
         if re.search(r'(^|/| )stylegan-seg |python (-m (stylegan_seg_jax |'
                      r'benchmarks\.)|convert_weights\.py)', c)]


@pytest.mark.fast
def test_the_docs_document_every_tool():
  text = ' '.join(c for _, c in TOOLS)
  for tool in commands.COMMANDS:
    assert f'stylegan-seg {tool} ' in text, tool
  assert 'convert_weights.py' in text
  scripts = {re.search(r'launch/\S+\.(sh|sbatch)', c).group(0)
             for _, c in COMMANDS if 'launch/' in c}
  assert {'launch/quickstart.sh', 'launch/run_tests.sh',
          'launch/setup_env.sh', 'launch/toy_report.sh'} <= scripts
  for script in scripts:
    assert (ROOT / script).is_file(), script


@pytest.mark.slow
@pytest.mark.parametrize('doc,command', TOOLS,
                         ids=[f'{f}:{c[:60]}' for f, c in TOOLS])
def test_documented_command_parses(doc, command):
  argv = shlex.split(command)
  start = next(i for i, a in enumerate(argv)
               if a.endswith(('python', 'stylegan-seg')))
  rest = argv[start + 1:]
  if argv[start].endswith('stylegan-seg'):  # the installed command
    rest = ['-m', 'stylegan_seg_jax', *rest]
  argv = [sys.executable, *rest]
  proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                        env=subprocess_env(STYLEGAN_SEG_JAX_CHECK_ARGS='1'),
                        timeout=120)
  assert proc.returncode == 0 and 'args ok' in proc.stdout, (
      f'{doc}: {command}\n{proc.stdout}\n{proc.stderr}')


def _python_block(path: pathlib.Path, needle: str) -> str:
  blocks = [b for b in _blocks(path, 'python') if needle in b]
  assert len(blocks) == 1, (path, needle)
  return blocks[0]


@pytest.mark.fast
@pytest.mark.parametrize('doc,needle', [
    ('README.md', 'faces.load_generator()'),
    ('docs/domains.md', 'faces.load_generator()'),
])
def test_documented_python_example_runs(doc, needle, capsys):
  code = _python_block(ROOT / doc, needle)
  scope = {}
  exec(compile(code, doc, 'exec'), scope)  # noqa: S102  pylint: disable=exec-used
  if doc == 'README.md':
    assert capsys.readouterr().out.strip() == '1.0'
  else:
    assert scope['masks'].shape == (16, 64, 64)


def _layout_block() -> str:
  text = (ROOT / 'README.md').read_text()
  section = text[text.index('## Layout'):]
  return re.search(r'```\n(.*?)```', section, re.S).group(1)


@pytest.mark.fast
def test_the_readme_layout_matches_the_tree():
  entries = re.findall(r'^( *)(\S+)', _layout_block(), re.M)
  top = {name for indent, name in entries if not indent}
  package = {name for indent, name in entries if indent == '  '}
  for name in top:
    assert (ROOT / name).exists(), name
  folders = {f'{p.name}/' for p in (ROOT / 'stylegan_seg_jax').iterdir()
             if (p / '__init__.py').is_file()}
  assert package == folders
  # Every folder at the top of the repository is named (hidden ones and
  # local outputs aside).
  tracked = {f'{p.name}/' for p in ROOT.iterdir() if p.is_dir()
             and not p.name.startswith('.') and p.name not in (
                 'workdirs', 'datasets', 'build', 'logs')
             and not p.name.endswith('.egg-info')}
  assert tracked <= top


@pytest.mark.fast
def test_cli_doc_has_a_section_per_command():
  text = (ROOT / 'docs' / 'cli.md').read_text()
  for name in commands.COMMANDS:
    assert f'\n## {name}\n' in text, name

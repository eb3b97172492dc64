"""What the launcher tests share: the documented command lines, tiny
stand-ins for a run's inputs, and running a few of those lines with bash."""

import pathlib
import re
import subprocess

from tests.helpers import ROOT


def command_lines(doc: str, substitutions: dict[str, str],
                  sections: str) -> dict[str, list[str]]:
  """The bash command lines of docs/DOC's sections numbered in `sections`
  (continuations joined, comments dropped), after `substitutions` (each
  of which must occur in the page): section number -> lines."""
  text = (ROOT / 'docs' / doc).read_text()
  for old, new in substitutions.items():
    assert old in text, f'docs/{doc} no longer has {old!r}'
    text = text.replace(old, new)
  out = {}
  for part in re.split(r'^## ', text, flags=re.M)[1:]:
    number = part.split('.', 1)[0]
    if not (number.isdigit() and number in sections):
      continue
    lines = []
    for block in re.findall(r'```bash\n(.*?)```', part, flags=re.S):
      for line in block.replace('\\\n', ' ').splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
          lines.append(' '.join(line.split()))
    out[number] = lines
  return out


def stand_ins(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
  """Tiny inputs of a run: the toy faces generator, a toy labelled example
  (configs/tiny.py's), the toy test set."""
  from configs import tiny  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import domains  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.data import experiment  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.data import labelled_set  # pylint: disable=g-import-not-at-top
  labels = tmp_path / 'stand_in' / 'labels'
  labels.mkdir(parents=True)
  face = domains.get('faces')
  labelled_set.save_example(
      labels / experiment.EXAMPLE_FILE,
      experiment.load_oneshot(tiny.get_config(), tmp_path,
                              face.load_generator()))
  return {'generator': face.generator_dir, 'labels': labels,
          'test_set': experiment.domain_test_set_dir(face,
                                                     tmp_path / 'stand_in')}


def run(env: dict[str, str], script: str, *, wait: bool = True,
        status: int = 0, logs: pathlib.Path | None = None):
  """Runs `script` with bash (-euo pipefail) in the checkout: the finished
  process (its status must be `status`; the failure shows the end of its
  output and of the *.log files in `logs`), or with `wait=False` the
  running one (stdout and stderr piped)."""
  cmd = ['bash', '-euo', 'pipefail', '-c', script]
  if not wait:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
  proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=900)
  shown = {p.name: p.read_text()[-2000:]
           for p in (logs.glob('*.log') if logs else [])}
  assert proc.returncode == status, (script, proc.stdout[-3000:],
                                     proc.stderr[-3000:], shown)
  return proc


def flag_list(env: dict[str, str], setup: list[str]) -> list[str]:
  """$FLAGS as the page's variable lines (`setup`) define it."""
  out = subprocess.run(['bash', '-c', '\n'.join(setup) +
                        '\nprintf "%s\\n" $FLAGS'], env=env,
                       capture_output=True, text=True, check=True).stdout
  return out.split()

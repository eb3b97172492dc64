"""Process-0 work in a two-process run (jax.distributed over gloo on CPU):
the result, and a failure that every process hears of at once."""

import socket
import subprocess
import sys
import time

import pytest

from tests.helpers import subprocess_env

pytestmark = pytest.mark.slow

# Each process runs this; argv: process id, port, whether process 0 fails.
_PROGRAM = """
import sys
import jax
from stylegan_seg_jax.runtime import parallel
pid, port, fail = int(sys.argv[1]), sys.argv[2], sys.argv[3] == '1'
parallel.maybe_initialize_distributed(
    True, coordinator_address=f'127.0.0.1:{port}', num_processes=2,
    process_id=pid)

def work():
  if fail:
    raise OSError('disk full')
  return 'written'

try:
  print('result', parallel.on_process_0(work, 'writing x'))
except Exception as e:
  print('error', type(e).__name__, e)
parallel.sync_processes('after')  # both are still here, not stuck
print('done')
"""


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _run_pair(fail):
  port = str(_free_port())
  env = subprocess_env(XLA_FLAGS='--xla_force_host_platform_device_count=1')
  start = time.monotonic()
  procs = [subprocess.Popen([sys.executable, '-c', _PROGRAM, str(i), port,
                             str(int(fail))], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
           for i in range(2)]
  outs = [[line for line in p.communicate(timeout=120)[0].splitlines()
           if not line.startswith('[Gloo]')] for p in procs]
  return outs, time.monotonic() - start


def test_result_on_process_0_only():
  outs, _ = _run_pair(fail=False)
  assert outs == [['result written', 'done'], ['result None', 'done']]


def test_a_failure_on_process_0_reaches_the_others_at_once():
  outs, seconds = _run_pair(fail=True)
  assert outs[0] == ['error OSError disk full', 'done']
  assert outs[1] == ['error PeerFailedError writing x: process 0 failed '
                     '(its log says why)', 'done']
  assert seconds < 60  # no heartbeat timeout

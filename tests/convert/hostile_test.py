"""Hostile checkpoint files: refused in one line, bounded, nothing written.

Each class of attack is built here by hand (tests/convert/hostile_files.py,
no torch). `test_refused_in_process` checks the reader and the mapping
directly (fast); `test_cli_refuses` runs `convert_weights.py` on the same
files in a subprocess under memory and CPU limits and checks the exit
status, the single printable stderr line, the peak memory, that no payload
ran and that nothing was written at or beside --out.
"""

import errno
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from stylegan_seg_jax.convert import bounds
from stylegan_seg_jax.convert import formats
from stylegan_seg_jax.convert import readers
from stylegan_seg_jax.runtime import files
from tests.convert import hostile_files as hf
from tests.convert.hostile_files import Call
from tests.convert.hostile_files import Global
from tests.convert.hostile_files import NewObj
from tests.convert.hostile_files import numpy_array
from tests.convert.hostile_files import numpy_dtype
from tests.helpers import ROOT
from tests.helpers import subprocess_env

MARKER = 'PWNED'  # a payload that ran would create this file in the cwd
_SYSTEM = Global('posix', 'system')
_F32 = np.zeros(4, np.float32).tobytes()


def _fragment(obj):
  """Pickle opcodes of `obj` without the PROTO header and the STOP."""
  return hf.dumps(obj)[2:-1]


def _pickle(*parts):
  return b'\x80\x02' + b''.join(parts) + b'.'


def _rosinality_zip(tensors, storages, **kwargs):
  return hf.torch_zip({'g_ema': tensors}, storages, **kwargs)


def _shared_chain(depth, leaf):
  """[x, x] nested `depth` times: 2**depth paths, `depth` objects."""
  node = leaf
  for _ in range(depth):
    node = [node, node]
  return node


def _module_chain(depth):
  """NVIDIA-like modules, each holding the next one twice."""
  node = hf.persistent_module('Leaf', {'_parameters': {}, '_modules': {}})
  for i in range(depth):
    node = hf.persistent_module(f'Level{i}', {
        '_parameters': {}, '_buffers': {}, '_modules': {'a': node, 'b': node}})
  return node


def _cyclic_stub():
  stub = NewObj(Global('torch.nn.modules.container', 'Sequential'))
  stub.state = {'_parameters': {}, '_buffers': {}, '_modules': {'me': stub}}
  return stub


def _class_build():
  """BUILD with slot state on the EasyDict stand-in class itself."""
  return _pickle(b'cdnnlib\nEasyDict\n',
                 _fragment((None, {'__getattr__': 'x', '__init__': 1})), b'b')


def _nvidia_tree(inner):
  """G_ema with a synthesis block b4 whose submodules are `inner`."""
  block = hf.persistent_module('SynthesisBlock', {'_modules': inner})
  return hf.dumps({'G_ema': hf.persistent_module('Generator', {'_modules': {
      'mapping': hf.persistent_module('MappingNetwork', {'_modules': inner}),
      'synthesis': hf.persistent_module('SynthesisNetwork', {
          '_modules': {'b4': block}})}})})


def _nvidia(kwargs):
  return hf.dumps({'G_ema': hf.persistent_module(
      'Generator', {'_init_kwargs': kwargs, '_modules': {}})})


# id -> (file bytes, file name, fragment of the expected message)
CASES = {
    # Code execution: refused globals, calls and constructions.
    'os_system': (lambda: hf.dumps({'G_ema': Call(_SYSTEM, f'touch {MARKER}')}),
                  'disallowed global posix.system'),
    'builtins_eval': (lambda: hf.dumps(Call(
        Global('builtins', 'eval'), f"__import__('os').system('touch "
        f"{MARKER}')")), 'disallowed global builtins.eval'),
    'reconstructor_system': (lambda: hf.dumps(Call(
        Global('copyreg', '_reconstructor'), _SYSTEM, Global('builtins',
                                                             'object'),
        None)), 'disallowed global posix.system'),
    'ndarray_uninitialised': (lambda: hf.dumps(Call(
        Global('numpy', 'ndarray'), (1 << 20,))), 'refusing to call'),
    'ndarray_newobj': (lambda: hf.dumps(NewObj(Global('numpy', 'ndarray'),
                                               (1 << 20,))),
                       'refusing to instantiate'),
    'inst_opcode': (lambda: _pickle(b'(ibuiltins\nlist\n'),
                    'opcode checkpoints do not use'),
    # Memory-unsafe numpy: object and structured dtypes, dtype BUILD.
    'object_dtype_array': (lambda: hf.dumps(numpy_array(
        numpy_dtype('O8', (3, '|', None, None, None, -1, -1, 63)), (2,),
        b'\x41' * 16)), "refusing numpy dtype 'O8'"),
    'structured_dtype': (lambda: hf.dumps(numpy_array(
        numpy_dtype('V16', (3, '|', None, ('a',),
                            {'a': (numpy_dtype('O8'), 8)}, 16, 1, 16)),
        (1,), b'\x00' * 16)), "refusing numpy dtype 'V16'"),
    'dtype_flags_build': (lambda: hf.dumps(numpy_array(
        numpy_dtype('f4', (3, '<', None, None, None, -1, -1, 63)), (1,),
        _F32[:4])), 'refusing numpy dtype state'),
    'dtype_field_offsets': (lambda: hf.dumps(numpy_array(
        numpy_dtype('f4', (3, '<', None, ('x',), {'x': (None, 1 << 40)}, 4, 4,
                           0)), (1,), _F32[:4])),
                            'refusing numpy dtype state'),
    'scalar_object_dtype': (lambda: hf.dumps(Call(
        Global('numpy.core.multiarray', 'scalar'), numpy_dtype('O8'),
        b'A' * 8)), "refusing numpy dtype 'O8'"),
    'class_build': (_class_build, 'refusing to set the state of class'),
    # Out-of-bounds tensors.
    'negative_stride': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', 4, 3, (4,), (-1,))}, {'0': _F32}),
                        'negative offset or stride'),
    'mixed_sign_strides': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', 1, 0, (2, 2), (1, -1))}, {'0': _F32[:4]}),
                           'negative offset or stride'),
    'negative_offset': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', 4, -8, (2,), (1,))}, {'0': _F32}),
                        'negative offset or stride'),
    'stride_past_storage': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', 4, 0, (2,), (1 << 40,))}, {'0': _F32}),
                            'reaches past its storage'),
    'huge_stride_product': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', 4, 0, (2, 2), (1 << 62, 1 << 62))},
        {'0': _F32}), 'reaches past its storage'),
    # Resource exhaustion from tiny files.
    'zero_stride_inflation': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', 1, 0, (1 << 26,), (0,))}, {'0': _F32[:4]}),
                              'more elements than its storage'),
    'zip_member_bomb': (lambda: _bomb(), 'would take the data read past'),
    'zip_storage_larger_than_member': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', 1 << 28, 0, (1,), (1,))}, {'0': _F32}),
                                       "storage '0' is truncated"),
    'legacy_huge_unused_storage': (lambda: hf.legacy_stream(
        {'g_ema': {'w': hf.tensor('0', 1 << 28, 0, (1,), (1,))}},
        {'0': np.zeros(1, np.float32)}, counts={'0': 1 << 28}),
                                   "storage '0' declares 1073741824 bytes"),
    'binbytes8_huge': (lambda: _pickle(b'\x8e' + struct.pack('<Q', 1 << 40)),
                       'a record needs 1099511627776 bytes'),
    'bytearray8_huge': (lambda: b'\x80\x05' + b'\x96' + struct.pack(
        '<Q', 1 << 40) + b'.', 'a record needs 1099511627776 bytes'),
    'frame_huge': (lambda: b'\x80\x04\x95' + struct.pack('<Q', 1 << 40),
                   'a record needs 1099511627776 bytes'),
    'trailing_data': (lambda: hf.dumps({'g_ema': {}}) + b'\x00' * 4096,
                      'bytes of unexpected data after the end of the pickle'),
    'legacy_trailing_data': (lambda: hf.legacy_stream(
        {'g_ema': {'w': hf.contiguous('0', np.zeros(4, np.float32))}},
        {'0': np.zeros(4, np.float32)}, trailing=b'\x00' * 64),
                             'bytes of unexpected data after the last'),
    'shared_module_graph': (lambda: _nvidia_tree(
        {'a': _module_chain(40), 'b': _module_chain(40)}),
                            'missing tensor'),
    'shared_list_in_message': (lambda: _nvidia(
        {'c_dim': _shared_chain(40, 1)}), 'conditional generators'),
    'deep_dict_key': (lambda: _pickle(b'})' + b'\x85' * 100000 + b'Ns'),
                      'refusing a dict key'),
    # Wrong structure: one line, not a traceback.
    'module_cycle': (lambda: _nvidia_tree({'c': _cyclic_stub()}),
                     'missing tensor'),
    'g_ema_not_a_dict': (lambda: hf.dumps({'g_ema': [1, 2, 3]}),
                         "'g_ema' is not a state dict"),
    'modules_not_a_dict': (lambda: hf.dumps({'G_ema': hf.persistent_module(
        'Generator', {'_modules': 5})}), 'expected a dict'),
    'tensor_is_a_string': (lambda: hf.dumps(
        {'g_ema': {'style.1.weight': 'x'}}), 'is not a tensor'),
    'ansi_in_c_dim': (lambda: _nvidia(
        {'c_dim': '1\nconvert: wrote out OK\x1b[32m'}),
                      'conditional generators'),
    'ansi_in_class_name': (lambda: hf.dumps({'G_ema': hf.persistent_module(
        'Gen\r\n\x1b[2Kwrote OK', {})}), 'expected \'Generator\''),
    # Corruption that used to be accepted.
    'legacy_key_list_misses_storage': (lambda: hf.legacy_stream(
        {'g_ema': {'w': hf.contiguous('0', np.zeros(4, np.float32)),
                   'v': hf.contiguous('1', np.zeros(4, np.float32))}},
        {'0': np.zeros(4, np.float32), '1': np.zeros(4, np.float32)},
        keys=['0']), 'does not name every storage'),
    'int_storage_for_weights': (lambda: _rosinality_zip(
        {'style.1.weight': hf.contiguous('0', np.zeros((4, 4)), 'IntStorage'),
         'input.input': hf.contiguous('1', np.zeros((1, 4, 4, 4)))},
        {'0': bytes(64), '1': bytes(256)}), 'has dtype int32'),
    'negative_numel': (lambda: _rosinality_zip(
        {'w': hf.tensor('0', -4, 0, (1,), (1,))}, {'0': _F32}),
                       'negative storage element count'),
    'unknown_byte_order': (lambda: _rosinality_zip(
        {'w': hf.contiguous('0', np.zeros(4, np.float32))}, {'0': _F32},
        byteorder=b'middle'), "unknown byte order b'middle'"),
    # Found by an adversarial review of the first version.
    'zero_width_latent': (lambda: hf.rosinality_res4(w=0),
                          'w_dim is 0; expected 1 to 8192'),
    'huge_z_dim': (lambda: hf.rosinality_res4(z=70000, compress=True),
                   'z_dim is 70000; expected 1 to 8192'),
    'float64_overflow': (lambda: hf.rosinality_res4(dtype='DoubleStorage',
                                                    fill=1e300),
                         'contains NaN or inf'),
    'nested_embedded_storages': (lambda: hf.dumps({'G_ema': Call(
        Global('torch.storage', '_load_from_bytes'), hf.legacy_stream(
            hf.embedded_storage(np.zeros(4, np.float32)), {}))}),
                                 'disallowed global torch.storage.'
                                 '_load_from_bytes'),
    'cheap_opcodes_deflated': (lambda: hf.torch_zip(
        {}, {}, extra={'x/data.pkl': b'\x80\x04' + b'\x8f' * 8_000_000
                       + b'N.'}, pkl_name='y/other', compress_extra=True),
                               "the pickle's opcodes would take"),
    'colliding_int_keys': (lambda: _pickle(b'}(' + b''.join(
        b'\x8a\x10' + (k * (2**61 - 1)).to_bytes(16, 'little', signed=True)
        + b'N'
        for k in range(1, 2000)) + b'u'), 'refusing a dict key'),
    'huge_int_shape': (lambda: hf.dumps(numpy_array(
        numpy_dtype('f4'), (1 << 300000,) * 2, b'x')),
                       'not a 64-bit integer'),
    'dotted_module_name': (lambda: _nvidia_tree(
        {'b4.conv1': hf.persistent_module('X', {})}),
                           "module name 'b4.conv1'"),
    'leading_zero_block': (lambda: hf.dumps({'G_ema': hf.persistent_module(
        'Generator', {'_modules': {
            'mapping': hf.persistent_module('M', {}),
            'synthesis': hf.persistent_module('S', {'_modules': {
                'b4': hf.persistent_module('B', {'_modules': {
                    'conv1': hf.persistent_module('L', {
                        'activation': 'linear', 'conv_clamp': 256})}}),
                'b04': hf.persistent_module('B', {})}})}})}),
                           "activation 'linear' is not supported"),
    'legacy_big_endian_unknown': (lambda: hf.legacy_stream(
        {'g_ema': {}}, {}, sys_info={'protocol_version': 1001}),
                                  'unknown or big-endian byte order'),
}


def _bomb():
  """A 256 MiB storage that deflates to a few hundred KiB."""
  return hf.deflate_bomb(
      {'g_ema': {'w': hf.tensor('0', 1 << 26, 0, (1,), (1,))}}, '0', 1 << 28)


_CACHE = {}


def _case_bytes(name):
  if name not in _CACHE:
    _CACHE[name] = CASES[name][0]()
  return _CACHE[name]


@pytest.mark.fast
@pytest.mark.parametrize('name', sorted(CASES))
def test_refused_in_process(tmp_path, monkeypatch, name):
  monkeypatch.chdir(tmp_path)
  src = tmp_path / 'hostile.pt'
  src.write_bytes(_case_bytes(name))
  assert src.stat().st_size < 1 << 20, 'hostile files stay tiny'
  start = time.monotonic()
  with pytest.raises(ValueError) as info:
    formats.convert_object(readers.read_checkpoint_file(src))
  assert time.monotonic() - start < 10
  message = str(info.value)
  assert CASES[name][1] in message, message
  assert not (tmp_path / MARKER).exists()


# A small process that sets the limits, forks the command and writes its
# peak RSS (KiB) to argv[1]. A child of the (large) test process itself would
# report the test process's resident size at the fork as its own peak: the
# kernel keeps the high-water mark across exec. No Python runs between fork
# and exec in the test process.
_LIMITED = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (120, 120))
pid = os.fork()
if pid == 0:
  os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], 'w') as f:
  f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def _run_limited(args, cwd, timeout=180):
  """Runs a command under the limits; (exit code, stderr, peak RSS MiB, s)."""
  err, peak = cwd / 'stderr.txt', cwd.parent / 'peak_kib.txt'
  with open(err, 'wb') as stderr:
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, '-c', _LIMITED, str(peak), *args],
                            stdout=subprocess.DEVNULL, stderr=stderr,
                            cwd=cwd, env=subprocess_env(),
                            start_new_session=True)
    timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
    timer.start()
    try:
      proc.wait()
    finally:
      timer.cancel()
  return (proc.returncode, err.read_text(errors='replace'),
          int(peak.read_text()) / 1024, time.monotonic() - start)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(CASES))
def test_cli_refuses(tmp_path, name):
  work = tmp_path / 'work'
  work.mkdir()
  src = work / 'hostile.pt'
  src.write_bytes(_case_bytes(name))
  code, stderr, peak_mib, seconds = _run_limited(
      [sys.executable, str(ROOT / 'convert_weights.py'), f'--src={src}',
       f'--out={work / "out"}'], work)
  lines = stderr.splitlines()
  assert code == 1, stderr
  assert len(lines) == 1, stderr
  line = lines[0]
  assert line.startswith('convert: error: '), line
  assert line.isprintable(), repr(line)
  assert CASES[name][1] in line, line
  assert 'out of memory' not in line and 'MemoryError' not in line, line
  assert peak_mib < 900, f'peak RSS {peak_mib:.0f} MiB'
  assert seconds < 60
  assert sorted(p.name for p in work.iterdir()) == ['hostile.pt',
                                                    'stderr.txt']


@pytest.mark.fast
def test_class_state_cannot_leak_into_later_reads(tmp_path):
  bad = tmp_path / 'bad.pkl'
  bad.write_bytes(_class_build())
  with pytest.raises(bounds.CheckpointReadError, match='state of class'):
    readers.read_checkpoint_file(bad)
  good = tmp_path / 'good.pkl'
  good.write_bytes(hf.dumps(NewObj(Global('dnnlib', 'EasyDict'), state={})))
  obj = readers.read_checkpoint_file(good)
  assert type(obj).__name__ == '_AttrDict' and obj == {}
  with pytest.raises(AttributeError):
    _ = obj.missing


@pytest.mark.slow
def test_cli_refuses_links_and_leaves_nothing(tmp_path):
  src = tmp_path / 'x.pt'
  src.write_bytes(hf.dumps({'g_ema': {}}))
  target = tmp_path / 'target'
  target.mkdir()
  dangling = tmp_path / 'dangling'
  dangling.symlink_to(tmp_path / 'nowhere')
  link = tmp_path / 'link'
  link.symlink_to(target)
  for out in (dangling, link):
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'convert_weights.py'), f'--src={src}',
         f'--out={out}', '--overwrite'], capture_output=True, text=True,
        env=subprocess_env(), check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f'convert: error: {out} is a symbolic link; give the '
        'directory it points to, or another path']
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not any(target.iterdir())


def _scratch_left(parent):
  return [p.name for p in parent.iterdir() if '.tmp-' in p.name
          or '.old-' in p.name]


@pytest.mark.fast
def test_directory_appearing_during_write_is_not_replaced(tmp_path):
  out = tmp_path / 'out'
  with pytest.raises(FileExistsError, match='appeared or changed'):
    with files.atomic_directory(out) as tmp:
      (tmp / 'result').write_text('new')
      out.mkdir()
      (out / 'precious').write_text('theirs')
  assert [p.name for p in out.iterdir()] == ['precious']
  assert not _scratch_left(tmp_path)


@pytest.mark.fast
def test_file_or_link_appearing_during_overwrite_is_not_replaced(tmp_path):
  out = tmp_path / 'out'
  out.mkdir()
  (out / 'old').write_text('old')
  with pytest.raises(FileExistsError, match='appeared or changed'):
    with files.atomic_directory(out, overwrite=True) as tmp:
      (tmp / 'result').write_text('new')
      (out / 'old').unlink()
      out.rmdir()
      out.write_text('a file now')
  assert out.read_text() == 'a file now'
  assert not _scratch_left(tmp_path)


@pytest.mark.fast
def test_empty_directory_and_overwrite_are_replaced(tmp_path):
  out = tmp_path / 'out'
  with files.atomic_directory(out) as tmp:
    (tmp / 'a').write_text('1')
    out.mkdir()  # empty: nothing to lose
  assert [p.name for p in out.iterdir()] == ['a']
  with files.atomic_directory(out, overwrite=True) as tmp:
    (tmp / 'b').write_text('2')
  assert [p.name for p in out.iterdir()] == ['b']
  with pytest.raises(RuntimeError):
    with files.atomic_directory(out, overwrite=True) as tmp:
      raise RuntimeError('failed')
  assert [p.name for p in out.iterdir()] == ['b']
  assert not _scratch_left(tmp_path)


@pytest.mark.fast
def test_atomic_file_never_replaces_a_file_that_appeared(tmp_path):
  path = tmp_path / 'f.json'
  with pytest.raises(FileExistsError, match='appeared'):
    with files.atomic_file(path, overwrite=False) as tmp:
      tmp.write_text('new')
      path.write_text('theirs')
  assert path.read_text() == 'theirs'
  assert not _scratch_left(tmp_path)


# --------------------------------------------------------------------------
# Label import: masks are regular PNG files whose header is checked first.
# --------------------------------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize('kind,pattern', [
    ('bomb_header', 'claims an image too large'),
    ('big_header', 'mask is 9000x9000, the image is 8x8'),
    ('eps', 'not a PNG image'),
    ('fifo', 'not a regular file'),
])
def test_hostile_masks_are_refused_before_decoding(tmp_path, kind, pattern):
  from stylegan_seg_jax.data import labelling  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'mask.png'
  if kind == 'bomb_header':
    path.write_bytes(hf.png_header(100000, 100000))
  elif kind == 'big_header':
    path.write_bytes(hf.png_header(9000, 9000))
  elif kind == 'eps':
    path.write_bytes(b'%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n'
                     b'(x) print\n')
  else:
    try:
      os.mkfifo(path)
    except OSError as e:
      if e.errno == errno.EPERM:
        pytest.skip('no FIFOs here')
      raise
  # A regression would block on the FIFO: fail instead of hanging.
  result = {}

  def read():
    try:
      labelling.read_mask(path, ('a', 'b'), 8)
    except ValueError as e:
      result['error'] = str(e)
  thread = threading.Thread(target=read, daemon=True)
  thread.start()
  thread.join(30)
  if thread.is_alive():
    with open(path, 'wb'):  # unblock the reader before failing
      pass
    pytest.fail('reading the mask blocked')
  assert pattern in result.get('error', ''), result
  assert '\n' not in result['error']


@pytest.mark.fast
def test_png_header_helper_is_a_valid_png(tmp_path):
  """The crafted headers are real PNGs (a small one decodes)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'ok.png'
  path.write_bytes(hf.png_header(8, 8))
  with Image.open(path) as img:
    assert img.format == 'PNG' and img.size == (8, 8)


@pytest.mark.fast
def test_documented_limits_are_the_code_limits():
  """docs/formats.md states the budget and the node limit the code uses."""
  doc = ' '.join((ROOT / 'docs' / 'formats.md').read_text().split())
  assert '**4 x the file size + 64 MiB**' in doc
  assert bounds.default_byte_limit(0) == 64 << 20
  assert bounds.default_byte_limit(1000) == 4000 + (64 << 20)
  assert '**1,000,000 modules**' in doc and bounds.MAX_NODES == 1_000_000
  assert f'builds {len(CASES)} hostile files' in doc


@pytest.mark.fast
def test_hand_built_generator_converts(tmp_path):
  """The helpers make real checkpoints: a complete one converts and loads."""
  from stylegan_seg_jax import convert  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import stylegan2  # pylint: disable=g-import-not-at-top
  src = tmp_path / 'g.pt'
  src.write_bytes(hf.rosinality_res4(z=8, w=8, channels=4))
  config = convert.convert_file(src, tmp_path / 'out')
  assert (config.resolution, config.z_dim, config.w_dim) == (4, 8, 8)
  gen = stylegan2.load(tmp_path / 'out')
  np.testing.assert_allclose(
      np.asarray(gen.variables['params']['synthesis']['b4']['const']), 0.1)

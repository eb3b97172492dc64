"""Hand-built checkpoint files, legitimate and hostile, without torch.

A tiny pickler writes any global by name (`Global`), calls (`Call`), BUILD
states, persistent ids (`Pid`) and raw opcodes (`Raw`), so a test can make
exactly the file an attacker would: torch zip archives, legacy streams,
NVIDIA-style pickles with embedded storages, and PNG headers.
"""

import io
import pickle
import struct
import zipfile
import zlib

import numpy as np

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_NO_STATE = object()


class Global:
  """A global `module.name` as the file names it (never resolved here)."""

  def __init__(self, module, name):
    self.module, self.name = module, name

  def __call__(self, *args):
    raise AssertionError('a Global is only pickled')


class Call:
  """Pickles as `func(*args)` (REDUCE), then BUILD with `state` if given."""

  def __init__(self, func, *args, state=_NO_STATE):
    self.func, self.args, self.state = func, args, state

  def __reduce__(self):
    if self.state is _NO_STATE:
      return self.func, self.args
    return self.func, self.args, self.state


class NewObj:
  """Pickles as `cls.__new__(cls, *args)` (NEWOBJ), then BUILD `state`."""

  def __init__(self, cls, *args, state=_NO_STATE):
    self.cls, self.args, self.state = cls, args, state


class Pid:
  """A persistent id (torch storages)."""

  def __init__(self, pid):
    self.pid = pid


class Raw:
  """Opcodes written as they are."""

  def __init__(self, data):
    self.data = data


class _Pickler(pickle._Pickler):  # pylint: disable=protected-access
  dispatch = dict(pickle._Pickler.dispatch)  # pylint: disable=protected-access

  def persistent_id(self, obj):
    return obj.pid if isinstance(obj, Pid) else None

  def _save_global(self, obj):
    self.write(pickle.GLOBAL + f'{obj.module}\n{obj.name}\n'.encode())
  dispatch[Global] = _save_global

  def _save_newobj(self, obj):
    self.save(obj.cls)
    self.save(obj.args)
    self.write(pickle.NEWOBJ)
    self.memoize(obj)
    if obj.state is not _NO_STATE:
      self.save(obj.state)
      self.write(pickle.BUILD)
  dispatch[NewObj] = _save_newobj

  def _save_raw(self, obj):
    self.write(obj.data)
  dispatch[Raw] = _save_raw


def dumps(obj, protocol=2):
  """Pickles `obj`; an object that appears twice is written once (memo)."""
  f = io.BytesIO()
  _Pickler(f, protocol=protocol).dump(obj)
  return f.getvalue()


def numpy_dtype(name, state=(3, '<', None, None, None, -1, -1, 0)):
  """`numpy.dtype(name)` with BUILD `state` (numpy's own dtype state)."""
  return Call(Global('numpy', 'dtype'), name, False, True, state=state)


def numpy_array(dtype, shape, raw):
  """A numpy array as numpy pickles it: `_reconstruct`, then BUILD."""
  return Call(Global('numpy.core.multiarray', '_reconstruct'),
              Global('numpy', 'ndarray'), (0,), b'b',
              state=(1, shape, dtype, False, raw))


def storage_type(name='FloatStorage'):
  return Global('torch', name)


def tensor(key, numel, offset, size, stride, dtype='FloatStorage'):
  """`torch._utils._rebuild_tensor_v2` over storage `key`."""
  pid = Pid(('storage', storage_type(dtype), key, 'cpu', numel))
  return Call(Global('torch._utils', '_rebuild_tensor_v2'), pid, offset,
              tuple(size), tuple(stride), False, Call(
                  Global('collections', 'OrderedDict')))


def contiguous(key, array, dtype='FloatStorage'):
  """A tensor over its own storage `key` holding `array`."""
  shape = array.shape
  strides = tuple(int(np.prod(shape[i + 1:])) for i in range(len(shape)))
  return tensor(key, array.size, 0, shape, strides, dtype)


def torch_zip(obj, storages, *, byteorder=b'little', compress=None,
              extra=None, pkl_name='archive/data.pkl', compress_extra=False):
  """A torch >= 1.6 zip checkpoint: data.pkl + data/<key> (+ byteorder).

  `extra` adds members (deflated with `compress_extra`); `pkl_name` moves the
  pickle of `obj` (so that an extra member can be the data.pkl).
  """
  f = io.BytesIO()
  with zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as zf:
    zf.writestr(pkl_name, dumps(obj))
    if byteorder is not None:
      zf.writestr('archive/byteorder', byteorder)
    for key, data in storages.items():
      info = zipfile.ZipInfo(f'archive/data/{key}')
      if compress is not None and key in compress:
        info.compress_type = zipfile.ZIP_DEFLATED
      zf.writestr(info, data)
    for name, data in (extra or {}).items():
      zf.writestr(name, data, zipfile.ZIP_DEFLATED if compress_extra
                  else zipfile.ZIP_STORED)
  return f.getvalue()


def deflate_bomb(obj, key, nbytes):
  """A torch zip whose storage `key` inflates to `nbytes` zeros."""
  f = io.BytesIO()
  with zipfile.ZipFile(f, 'w', zipfile.ZIP_DEFLATED) as zf:
    zf.writestr('archive/data.pkl', dumps(obj))
    with zf.open(f'archive/data/{key}', 'w', force_zip64=True) as member:
      chunk = bytes(1 << 22)
      for _ in range(nbytes // len(chunk)):
        member.write(chunk)
  return f.getvalue()


def legacy_stream(obj, storages, *, keys=None, sys_info=None, counts=None,
                  trailing=b''):
  """A torch legacy stream: magic, protocol, sys-info, object, keys, data.

  `storages` maps key -> float32 array; `keys` overrides the key list,
  `counts` the element counts written before each storage's bytes.
  """
  if sys_info is None:
    sys_info = {'protocol_version': 1001, 'little_endian': True,
                'type_sizes': {'short': 2, 'int': 4, 'long': 4}}
  keys = list(storages) if keys is None else keys
  out = [dumps(LEGACY_MAGIC), dumps(1001), dumps(sys_info), dumps(obj),
         dumps(keys)]
  for key in keys:
    data = np.asarray(storages.get(key, np.zeros(0, np.float32)), np.float32)
    count = data.size if counts is None else counts[key]
    out.append(struct.pack('<q', count) + data.tobytes())
  return b''.join(out) + trailing


def embedded_storage(data):
  """NVIDIA pickles: `torch.storage._load_from_bytes(<legacy stream>)`."""
  stream = legacy_stream(Pid(('storage', storage_type(), '0', 'cpu',
                              data.size)), {'0': data})
  return Call(Global('torch.storage', '_load_from_bytes'), stream)


def persistent_module(class_name, state):
  """An NVIDIA `torch_utils.persistence` object."""
  return Call(Global('torch_utils.persistence', '_reconstruct_persistent_obj'),
              {'type': 'class', 'class_name': class_name, 'state': state,
               'version': 6, 'module_src': '# not run', 'module_name': 'x'})


def png_header(width, height, *, mode=b'\x00', depth=8):
  """A PNG with a real IHDR of any claimed size and one tiny IDAT chunk."""
  def chunk(kind, data):
    body = kind + data
    return (struct.pack('>I', len(data)) + body
            + struct.pack('>I', zlib.crc32(body) & 0xffffffff))
  ihdr = struct.pack('>IIBBBBB', width, height, depth, mode[0], 0, 0, 0)
  return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr)
          + chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))


def rosinality_res4(z=8, w=8, channels=4, dtype='FloatStorage', fill=0.1,
                    compress=False):
  """A complete rosinality 4x4 generator (one mapping layer) as a torch zip.

  Args:
    z, w, channels: z size, w size and conv channels.
    dtype: the storage type of `style.1.bias` (the others are float32).
    fill: the value of `style.1.bias` (the others are 0.1, modulation
      biases 1).
    compress: deflate the storages (large but compressible sizes stay tiny).
  """
  c = channels
  shapes = {
      'style.1.weight': (w, z), 'style.1.bias': (w,),
      'input.input': (1, c, 4, 4), 'conv1.conv.weight': (1, c, c, 3, 3),
      'conv1.conv.modulation.weight': (c, w),
      'conv1.conv.modulation.bias': (c,), 'conv1.activate.bias': (c,),
      'conv1.noise.weight': (1,), 'noises.noise_0': (1, 1, 4, 4),
      'to_rgb1.conv.weight': (1, 3, c, 1, 1),
      'to_rgb1.conv.modulation.weight': (c, w),
      'to_rgb1.conv.modulation.bias': (c,), 'to_rgb1.bias': (1, 3, 1, 1)}
  tensors, storages = {}, {}
  for i, (name, shape) in enumerate(shapes.items()):
    value = 1.0 if name.endswith('modulation.bias') else 0.1
    if name == 'style.1.bias':
      value = fill
    kind = dtype if name == 'style.1.bias' else 'FloatStorage'
    np_dtype = np.float64 if kind == 'DoubleStorage' else np.float32
    array = np.full(shape, value, np_dtype)
    tensors[name] = contiguous(str(i), array, kind)
    storages[str(i)] = array.tobytes()
  return torch_zip({'g_ema': tensors}, storages,
                   compress=set(storages) if compress else None)

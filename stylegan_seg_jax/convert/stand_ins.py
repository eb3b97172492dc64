"""The inert stand-ins that foreign pickled objects become.

A checkpoint names classes of torch, NVIDIA's `dnnlib` / `torch_utils` and
the standard library. The restricted unpickler (`unpickler`) resolves each
allowed one to a stand-in defined here, which holds data only and takes
state only through its own checked `__setstate__`:

* `collections.OrderedDict` (torch state dicts), `dnnlib.EasyDict` and
  `argparse.Namespace` become dict-like or plain-data stand-ins;
* NVIDIA persistent modules (`torch_utils.persistence`) and plain torch
  modules become `PersistentModule`; TF's `dnnlib.tflib.network.Network`
  becomes `TFNetwork`.

(numpy arrays and dtypes and torch storages have theirs in `arrays`.) The
stand-in classes keep their underscore names, which refusal messages show
(`refusing to call class _StateDict`).

Walks over the unpickled object graph (`PersistentModule.named_tensors`,
`TFNetwork.named_variables`) visit each node once and at most `MAX_NODES`
nodes, so shared or cyclic references cannot make them run away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from stylegan_seg_jax.convert.bounds import MAX_NODES
from stylegan_seg_jax.convert.bounds import CheckpointReadError
from stylegan_seg_jax.convert.bounds import describe
from stylegan_seg_jax.convert.bounds import is_str
from stylegan_seg_jax.runtime.messages import quote

__all__ = [
    'PersistentModule',
    'TFNetwork',
    'str_keyed',
    'new_stub',
    'reconstruct_persistent',
]

class _Stub:
  """Base of the inert stand-ins a file may create and fill."""

  def __setstate__(self, state: Any) -> None:
    raise CheckpointReadError(
        f'unexpected state for {type(self).__name__}')


def str_keyed(state: Any, what: str) -> dict[str, Any]:
  """A copy of `state`, checked to be a dict with string keys."""
  if not isinstance(state, dict) or not all(
      isinstance(k, str) for k in state):
    raise CheckpointReadError(f'{what}: state is not a dict with string keys')
  return dict(state)


class _StateDict(dict, _Stub):
  """Stand-in for `collections.OrderedDict` (torch state dicts).

  Attributes:
    attributes: instance attributes the file gave (torch's `_metadata`).
  """

  def __setstate__(self, state: Any) -> None:
    if state is not None:
      self.attributes = str_keyed(state, 'OrderedDict')


class _AttrDict(dict, _Stub):
  """Stand-in for `dnnlib.EasyDict` / `dnnlib.util.EasyDict`."""

  def __getattr__(self, name: str) -> Any:
    try:
      return self[name]
    except KeyError as e:
      raise AttributeError(name) from e

  def __setstate__(self, state: Any) -> None:
    if state is not None:
      str_keyed(state, 'EasyDict')  # an EasyDict keeps its data as items


class _Namespace(_Stub):
  """Stand-in for `argparse.Namespace` (rosinality training checkpoints).

  Attributes:
    values: the namespace's attributes.
  """

  def __init__(self):
    self.values: dict[str, Any] = {}

  def __setstate__(self, state: Any) -> None:
    self.values = str_keyed(state, 'argparse.Namespace')


class PersistentModule(_Stub):
  """An NVIDIA persistent module (`torch_utils.persistence`), as data only.

  Attributes:
    class_name: the original class name, e.g. 'Generator'.
    state: the module's `__dict__` (`_parameters`, `_buffers`, `_modules`,
      `_init_kwargs`, ...).
  """

  def __init__(self, class_name: str, state: dict[str, Any]):
    """A module of class `class_name` with the attributes `state`."""
    self.class_name = class_name
    self.state = state

  def named_tensors(self, prefix: str = '') -> dict[str, np.ndarray]:
    """Parameters and persistent buffers of the module tree, dotted names.

    Each module is visited once (like torch's `named_parameters`), at most
    `MAX_NODES` of them.

    Args:
      prefix: prepended to every name.

    Returns:
      name -> array.

    Raises:
      CheckpointReadError: a module's state is not what torch writes.
    """
    out = {}
    for path, module in _walk(self, prefix, _module_children):
      state = str_keyed(module.state, f'module {quote(path)}')
      skip = _optional(state, '_non_persistent_buffers_set', ())
      if not isinstance(skip, (set, frozenset, list, tuple)):
        raise CheckpointReadError(f'module {quote(path)}: bad non-persistent '
                                  'buffer set')
      skip = {s for s in skip if isinstance(s, str)}
      for group in ('_parameters', '_buffers'):
        tensors = str_keyed(_optional(state, group, {}),
                            f'module {quote(path)} {group}')
        for name, value in tensors.items():
          if not name or '.' in name:
            raise CheckpointReadError(f'tensor name {quote(name)} under '
                                      f'{quote(path)} is not a torch name')
          if value is None or name in skip:
            continue
          if not isinstance(value, np.ndarray):
            raise CheckpointReadError(
                f'{quote(path + name)} is not a tensor (a '
                f'{type(value).__name__})')
          out[path + name] = value
    return out


class _ModuleStub(PersistentModule):
  """A plain (non-persistent) torch.nn module pickled by `copyreg`."""

  def __init__(self):
    super().__init__(type(self).__name__, {})

  def __setstate__(self, state: Any) -> None:
    self.state = str_keyed(state, f'torch module {type(self).__name__}')


def _optional(state: dict[str, Any], key: str, default: Any) -> Any:
  value = state.get(key)
  return default if value is None else value


def _module_children(path: str, module: Any
                     ) -> list[tuple[str, PersistentModule]]:
  state = module.state if isinstance(module.state, dict) else {}
  children = str_keyed(_optional(state, '_modules', {}),
                       f'module {quote(path)} _modules')
  out = []
  for name, child in children.items():
    if child is None:
      continue
    if not name or '.' in name:  # torch forbids them: names would collide
      raise CheckpointReadError(f'module name {quote(name)} under '
                                f'{quote(path)} is not a torch module name')
    if not isinstance(child, PersistentModule):
      raise CheckpointReadError(f'module {quote(path + name)} is not a '
                                f'module (a {type(child).__name__})')
    out.append((f'{path}{name}.', child))
  return out


def _walk(root: Any, prefix: str,
          children: Callable[[str, Any], list[tuple[str, Any]]]
          ) -> Iterator[tuple[str, Any]]:
  """Pre-order walk visiting each node once, at most MAX_NODES nodes."""
  seen: set[int] = set()
  stack = [(prefix, root)]
  while stack:
    path, node = stack.pop()
    if id(node) in seen:
      continue
    seen.add(id(node))
    if len(seen) > MAX_NODES:
      raise CheckpointReadError(f'the object graph has more than {MAX_NODES} '
                                'modules')
    yield path, node
    stack.extend(reversed(children(path, node)))


class TFNetwork(_Stub):
  """An NVIDIA TF `dnnlib.tflib.network.Network`, as data only.

  Attributes:
    name: network name ('G', 'D', 'Gs', 'G_mapping', ...).
    static_kwargs: construction kwargs.
    components: sub-networks by key ('mapping', 'synthesis').
    variables: list of (local name, numpy array).
  """

  def __init__(self):
    """An empty network, for `__setstate__` to fill."""
    self.name = ''
    self.static_kwargs: dict[str, Any] = {}
    self.components: dict[str, TFNetwork] = {}
    self.variables: list[tuple[str, np.ndarray]] = []

  def __setstate__(self, state: Any) -> None:
    """Takes the pickled network's state, checking every field's type."""
    state = str_keyed(state, 'TF network')
    name = _optional(state, 'name', '')
    if not isinstance(name, str):
      raise CheckpointReadError('TF network name is not a string')
    self.name = name
    self.static_kwargs = str_keyed(_optional(state, 'static_kwargs', {}),
                                   f'TF network {quote(name)} static_kwargs')
    self.components = str_keyed(_optional(state, 'components', {}),
                                f'TF network {quote(name)} components')
    variables = _optional(state, 'variables', [])
    if not isinstance(variables, (list, tuple)):
      raise CheckpointReadError(f'TF network {quote(name)}: variables are '
                                'not a list')
    self.variables = list(variables)

  def named_variables(self, prefix: str = '') -> dict[str, np.ndarray]:
    """Variables of the network tree, named by component key.

    Args:
      prefix: prepended to every name.

    Returns:
      name -> array (each network visited once, at most `MAX_NODES`).

    Raises:
      CheckpointReadError: a variable or component is not what TF writes.
    """
    out = {}
    for path, net in _walk(self, prefix, _network_children):
      for item in net.variables:
        if not (isinstance(item, (tuple, list)) and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], (np.ndarray, np.number))):
          raise CheckpointReadError(
              f'TF network {quote(path)}: a variable is not a (name, array) '
              'pair')  # TF gives 0-d variables as numpy scalars
        out[path + item[0]] = np.asarray(item[1])
    return out


def _network_children(path: str, net: Any) -> list[tuple[str, TFNetwork]]:
  out = []
  for key, comp in net.components.items():
    if not isinstance(comp, TFNetwork):
      raise CheckpointReadError(f'TF component {quote(path + key)} is not a '
                                'network')
    out.append((f'{path}{key}/', comp))
  return out


# --------------------------------------------------------------------------
# Builders: what the constructions a file may call return
# --------------------------------------------------------------------------


def new_stub(cls: Any, args: Any) -> Any:
  """NEWOBJ / copyreg: instantiate only a stand-in, without arguments."""
  if not (isinstance(cls, type) and issubclass(cls, _Stub)
          and cls is not PersistentModule) or type(args) is not tuple or args:  # pylint: disable=unidiomatic-typecheck
    raise CheckpointReadError(f'refusing to instantiate {describe(cls)}')
  return cls()


def reconstruct_persistent(meta: Any) -> PersistentModule:
  """`torch_utils.persistence._reconstruct_persistent_obj`, as data."""
  if not isinstance(meta, dict) or not is_str(meta.get('type'), 'class'):
    raise CheckpointReadError('unsupported NVIDIA persistent object')
  name = meta.get('class_name')
  if not isinstance(name, str):
    raise CheckpointReadError('NVIDIA persistent object without a class name')
  state = str_keyed(_optional(meta, 'state', {}),
                    f'NVIDIA persistent {quote(name)}')
  return PersistentModule(name, state)

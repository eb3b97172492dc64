"""A trained downstream network on disk: what `predict` and the evaluator load.

    DIR/network.json   format, widths, class names, resolution, train set
    DIR/params/        the parameters (orbax)

`save` writes the directory atomically; `load` checks the description
before building anything from it (sizes are bounded, so a hostile file
cannot ask for a huge network).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_seg_jax.downstream import network as network_lib
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files

__all__ = ['Network', 'save', 'load', 'NETWORK_FILE', 'NETWORK_FORMAT']

NETWORK_FILE = 'network.json'
NETWORK_FORMAT = 'stylegan_seg_jax.downstream_network.v1'


@dataclasses.dataclass(frozen=True)
class Network:
  """A trained downstream network, ready to segment.

  Attributes:
    module: the U-Net.
    params: its parameters.
    class_names: name of each class id.
    resolution: the image size it was trained at.
    train_set: what it was trained on, in words.
  """

  module: network_lib.UNet
  params: Any
  class_names: tuple[str, ...]
  resolution: int
  train_set: str

  def segment(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class ids [N, R, R] uint8 of uint8 images [N, R, R, 3]."""
    out = []
    for i in range(0, len(images), batch_size):
      out.append(np.asarray(_predict(self.module, self.params,
                                     jnp.asarray(images[i:i + batch_size]))))
    return np.concatenate(out).astype(np.uint8)


@functools.partial(jax.jit, static_argnames=('module',))
def _predict(module: network_lib.UNet, params: Any,
             images: jax.Array) -> jax.Array:
  x = images.astype(jnp.float32) / 127.5 - 1.0
  logits = cast(jax.Array, module.apply({'params': params}, x))
  return jnp.argmax(logits, -1)


def save(out: pathlib.Path, net: Network) -> None:
  """Writes `network.json` and the parameters to a new directory `out`."""
  with files.atomic_directory(out, overwrite=True) as tmp:
    checkpointing.save_pytree(tmp / 'params', jax.device_get(net.params))
    (tmp / NETWORK_FILE).write_text(json.dumps({
        'format': NETWORK_FORMAT, 'widths': list(net.module.widths),
        'class_names': list(net.class_names),
        'resolution': net.resolution, 'train_set': net.train_set},
        indent=2))


def load(directory: str | pathlib.Path) -> Network:
  """A network exported by the stage (`WORKDIR/downstream/network`).

  Raises:
    ValueError: not such a directory, or a malformed description.
  """
  root = files.as_path(directory)
  record = root / NETWORK_FILE
  if not record.is_file():
    raise ValueError(f'{root}: no {NETWORK_FILE} (train the downstream stage '
                     'first; the network is WORKDIR/downstream/network)')
  try:
    if files.file_size(record) > 1 << 20:
      raise ValueError('over 1 MB')
    meta = json.loads(record.read_text())
    if not isinstance(meta, dict):
      raise ValueError('not a JSON object')
    if meta.get('format') != NETWORK_FORMAT:
      raise ValueError(f'format {str(meta.get("format"))[:60]!r}')
    widths = tuple(int(w) for w in meta['widths'])
    names = tuple(str(n) for n in meta['class_names'])
    res = int(meta['resolution'])
    if not (widths and all(0 < w <= 1024 for w in widths)
            and 0 < len(names) <= 256 and 0 < res <= 4096
            and len(widths) <= 8 and res % network_lib.stride(widths) == 0):
      raise ValueError('sizes out of range')
  except (ValueError, KeyError, TypeError, AttributeError) as e:
    raise ValueError(f'{record}: not a downstream network description ({e})'
                     ) from None
  module = network_lib.UNet(num_classes=len(names), widths=widths)
  abstract = jax.eval_shape(module.init, jax.random.key(0),
                            jnp.zeros((1, res, res, 3)))['params']
  try:
    params = checkpointing.restore_pytree(root / 'params', abstract)
  except (ValueError, FileNotFoundError, KeyError) as e:
    raise ValueError(f'{root / "params"}: cannot restore the parameters '
                     f'({str(e)[:200]})') from None
  return Network(module, params, names, res, str(meta.get('train_set', '')))

"""The labeller's worker: the one thread for the generator and the head.

Every generator or head computation of a session runs in ONE worker thread
(`Worker.submit`), so requests never race on the device. The worker runs
the session's jobs: training the configured method's head on the examples
with the one-shot stage's own step (`stages.oneshot.fit`), then segmenting
a grid of new samples with the evaluator's segmentation function. It keeps
their pictures: the grid's PNGs and the newest sample PNGs of the examples.

Its state (`job`, `grid`, the trained head) is guarded by the session's
lock; a method takes the lock itself unless it says it is called with the
lock held.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
import concurrent.futures
import hashlib
import io
import pathlib
import threading
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from PIL import Image

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.data import labelling
from stylegan_seg_jax.eval import segmentation
from stylegan_seg_jax.labeller.refusals import Conflict
from stylegan_seg_jax.labeller.refusals import RequestError
from stylegan_seg_jax.runtime import messages
from stylegan_seg_jax.runtime import pictures
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import oneshot

__all__ = ['Worker', 'GRID_SIZE']

GRID_SIZE = 8  # predicted samples shown after training
_IMAGE_CACHE = 64  # sample PNGs kept in memory
# (examples, their key): what a job trains on.
_Training = tuple[list[labelled_set.OneShotExample], str]


class _Stopped(Exception):
  """The session is closing: a running job ends early."""


def _png(array: np.ndarray) -> bytes:
  buf = io.BytesIO()
  Image.fromarray(array).save(buf, format='PNG')
  return buf.getvalue()


class Worker:
  """A session's worker thread, its jobs and their pictures.

  Attributes:
    method: the method whose head is trained (`generate.method`).
    num_steps: training steps of a job (`oneshot.num_steps`).
    job: the newest job: 'state' ('idle', 'training', 'predicting', 'done'
      or 'error'), 'step', 'num_steps', 'version' (grows with every job) and,
      as they become known, 'started', 'loss', 'train_seconds', 'seconds'
      or 'message'.
    grid: the grid's 'seeds', 'version' (grows with every new grid),
      'predicted' (whether it shows a trained head's classes) and
      'uncertainty' (one per sample, None when not predicted).
  """

  def __init__(self, config: ml_collections.ConfigDict,
               workdir: pathlib.Path, gen: stylegan2.Generator, *,
               class_names: tuple[str, ...], colours: np.ndarray,
               psi: float, lock: threading.Lock,
               random_seeds: Callable[[int], list[int]]):
    """Prepares the configured method; starts no job.

    Args:
      config: experiment config: the method (`generate.method`) and the
        one-shot training settings.
      workdir: the run directory; 'ours' needs its trained SwAV stage.
      gen: the generator.
      class_names: the classes the head predicts.
      colours: [C, 3] uint8 colour of each class.
      psi: truncation of the grid samples.
      lock: the session's lock, which guards the worker's state too.
      random_seeds: draws n random sample seeds (called with the lock held).

    Raises:
      config_lib.ConfigError: the method cannot be prepared (no trained
        SwAV stage, unknown method, ...).
    """
    self.config = config
    self.workdir = workdir
    self.gen = gen
    self.method = str(config.generate.method)
    self.class_names = class_names
    self.colours = colours
    self.psi = psi
    self.num_steps = int(config.oneshot.num_steps)
    self._lock = lock
    self._random_seeds = random_seeds
    self._executor = concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix='labeller-worker')
    if self.method not in config_lib.methods_of(config):
      raise config_lib.ConfigError(
          f'generate.method {self.method!r} is not one of oneshot.methods')
    try:
      self._prepared = oneshot.prepare(
          self.method, config, str(self.workdir), self.gen,
          len(self.class_names), None)
    except ValueError as e:
      raise config_lib.ConfigError(str(e)) from None
    self._tx = oneshot.make_optimizer(config)
    self._step = oneshot.make_train_step(self._prepared.segmenter, self._tx)
    self._segment = segmentation.make_segment_fn(self.gen,
                                                 self._prepared.segmenter)
    self._images: collections.OrderedDict[str, bytes] = (
        collections.OrderedDict())  # the newest _IMAGE_CACHE sample PNGs
    self._stop = threading.Event()
    self.job: dict[str, Any] = {'state': 'idle', 'step': 0,
                                'num_steps': self.num_steps, 'version': 0}
    # (the examples' key, the head trained on them)
    self._trained: tuple[str, oneshot.OneShotState] | None = None
    self.grid: dict[str, Any] = {'seeds': [], 'version': 0,
                                 'predicted': False}
    self._grid_pictures: list[dict[str, bytes]] = []

  # --- the thread -----------------------------------------------------

  def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
    """Runs `fn` in the worker thread."""
    return self._executor.submit(fn)

  def close(self) -> None:
    """Stops a running job at its next step and ends the thread."""
    self._stop.set()
    self._executor.shutdown(wait=True, cancel_futures=True)

  # --- samples --------------------------------------------------------

  def latent(self, seed: int) -> np.ndarray:
    """The untruncated latent [w_dim] of `seed` (computed in the worker)."""
    z = stylegan2.z_from_seeds([seed], self.gen.config.z_dim)
    return self.submit(lambda: np.asarray(self.gen.mapping(z, psi=1.0),
                                          np.float32)[0]).result()

  def sample_png(self, w: np.ndarray, psi: float) -> bytes:
    """PNG of the sample of untruncated `w` truncated by `psi` (cached)."""
    key = hashlib.sha256(w.tobytes() + str(psi).encode()).hexdigest()
    with self._lock:
      data = self._images.get(key)
    if data is None:
      img = self.submit(lambda: labelling.render(
          self.gen, w[None], psi)[0]).result()
      data = _png(img)
      with self._lock:
        self._images[key] = data
        while len(self._images) > _IMAGE_CACHE:
          self._images.popitem(last=False)
    return data

  # --- jobs -----------------------------------------------------------

  def busy(self) -> bool:
    """Whether a job is training or predicting (call with the lock held)."""
    return self.job['state'] in ('training', 'predicting')

  def head(self, key: str) -> oneshot.OneShotState | None:
    """The head trained on the examples of `key`, or None.

    Call with the lock held.

    Args:
      key: the examples' `examples.examples_key`.
    """
    if self._trained is None or self._trained[0] != key:
      return None
    return self._trained[1]

  def start(self) -> int:
    """Draws the first grid's seeds, then queues a new grid (`regenerate`).

    Returns:
      The job's version number.
    """
    with self._lock:
      self.grid = {'seeds': self._random_seeds(GRID_SIZE), 'version': 0,
                   'predicted': False}
    return self.regenerate()

  def start_training(self, examples: list[labelled_set.OneShotExample],
                     key: str) -> int:
    """Starts training on `examples`, then predicting the grid.

    Args:
      examples: the examples to train on (copies: the job reads them later).
      key: their `examples.examples_key`, which `head` finds the head by.

    Returns:
      The job's version number (it grows with every job).

    Raises:
      Conflict: a job is already running.
    """
    with self._lock:
      if self.busy():
        raise Conflict('training is already running')
      version = self.job['version'] + 1
      self.job = {'state': 'training', 'step': 0, 'num_steps': self.num_steps,
                  'version': version, 'started': time.time()}
    self.submit(lambda: self._run_job((examples, key), None))
    return version

  def regenerate(self) -> int:
    """New grid samples; predicted in the worker when a head is trained.

    Returns:
      The job's version number.

    Raises:
      Conflict: a job is running.
    """
    with self._lock:
      if self.busy():
        raise Conflict('training is running; regenerate when it is done')
      seeds = self._random_seeds(GRID_SIZE)
      version = self.job['version'] + 1
      self.job = {**self.job, 'state': 'predicting', 'version': version,
                  'started': time.time()}
    self.submit(lambda: self._run_job(None, seeds))
    return version

  def _run_job(self, training: _Training | None,
               seeds: list[int] | None) -> None:
    t0 = time.perf_counter()
    try:
      if training is not None:
        examples, key = training
        state = self._train(examples)
        with self._lock:
          self._trained = (key, state)
          self.job.update(state='predicting', train_seconds=round(
              time.perf_counter() - t0, 2))
      self._predict(seeds)
      with self._lock:
        self.job.update(state='done',
                        seconds=round(time.perf_counter() - t0, 2))
    except _Stopped:
      with self._lock:
        self.job.update(state='error', message='the server is stopping')
    except Exception as e:  # pylint: disable=broad-except
      with self._lock:
        self.job.update(state='error', message=messages.one_line(e))

  def _train(self, examples: list[labelled_set.OneShotExample]
             ) -> oneshot.OneShotState:
    prepared = self._prepared
    if self.method == 'hfc_kmeans':  # its clusters come from the example
      prepared = oneshot.prepare(self.method, self.config, str(self.workdir),
                                 self.gen, len(self.class_names), examples[0])
    x, labels = oneshot.examples_input(prepared, self.gen, examples)
    # A fresh copy of the frozen inputs: the step donates its state.
    fresh = oneshot.Prepared(prepared.segmenter,
                             jax.tree.map(jnp.array, prepared.frozen))
    state = oneshot.init_state(fresh, self._tx, x,
                               oneshot.init_key(self.config, self.method))

    def progress(done: int, metrics: dict[str, float]) -> None:
      if self._stop.is_set():
        raise _Stopped()
      with self._lock:
        self.job.update(step=done, loss=round(metrics['loss'], 4))
    state = oneshot.fit(state, self._step, x, labels, self.num_steps,
                        progress)
    return jax.block_until_ready(state)

  # --- the grid -------------------------------------------------------

  def _predict(self, seeds: list[int] | None) -> None:
    with self._lock:
      seeds = list(self.grid['seeds'] if seeds is None else seeds)
      trained = self._trained
    z = stylegan2.z_from_seeds(seeds, self.gen.config.z_dim)
    w = np.asarray(self.gen.mapping(z, psi=1.0))
    if trained is None:
      images = labelling.render(self.gen, w, self.psi)
      labels = unc = None
    else:
      state = trained[1]
      out = self._segment(self.gen.variables,
                          {'params': state.params,
                           'batch_stats': state.batch_stats},
                          state.frozen, self.gen.truncate(w, self.psi))
      images = pictures.to_uint8(np.asarray(out[0])[..., :3])
      labels = np.asarray(out[1])
      unc = np.asarray(out[2], np.float64)
    cells = []
    for i in range(len(seeds)):
      cell = {'image': _png(images[i])}
      if labels is not None:
        cell['mask'] = _png(self._rgba(labels[i]))
      cells.append(cell)
    with self._lock:
      self._grid_pictures = cells
      self.grid = {'seeds': seeds, 'version': self.grid['version'] + 1,
                   'predicted': labels is not None,
                   'uncertainty': (None if unc is None else
                                   [round(float(u), 5) for u in unc])}

  def _rgba(self, labels: np.ndarray) -> np.ndarray:
    """Class colours, opaque, of a predicted label map.

    The background (class 0) and ids beyond the classes are transparent, as
    the page shows the painted mask.
    """
    c = len(self.class_names)
    out = np.zeros(labels.shape + (4,), np.uint8)
    shown = (labels > 0) & (labels < c)
    out[..., :3] = self.colours[np.where(shown, labels, 0)]
    out[..., 3] = np.where(shown, 255, 0)
    return out

  def grid_picture(self, index: int, kind: str) -> bytes:
    """PNG of grid cell `index`: 'image' or 'mask' (class colours).

    Raises:
      RequestError: no such cell or picture (a mask before predicting).
    """
    with self._lock:
      cells = self._grid_pictures
    if not 0 <= index < len(cells) or kind not in cells[index]:
      raise RequestError(f'no grid {kind} {index}')
    return cells[index][kind]

"""One labelling session: painted examples, training, predictions, saving.

The state behind the browser labeller (`labeller.server`), usable without
it. A session holds the labelled examples being painted (a generated sample
each: seed, untruncated latent, truncation, class-id mask), trains the
configured method's head on all of them with the one-shot stage's own step
(`stages.oneshot.fit`) and segments a grid of new samples with the
evaluator's segmentation function.

Every generator or head computation runs in ONE worker thread (`submit`),
so requests never race on the device; bookkeeping is guarded by a lock.
The examples are autosaved to `WORKDIR/labeller/draft.npz` on every change
(atomically), and a new session in the same workdir starts from that draft.
`save` writes the examples where `--config.data.oneshot=` reads them and the
trained head as the workdir's one-shot stage of the method, so `evaluate`
and `generate` use it directly.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
import concurrent.futures
import copy
import dataclasses
import datetime
import hashlib
import io
import json
import os
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
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.data import labelling
from stylegan_seg_jax.eval import segmentation
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import messages
from stylegan_seg_jax.runtime import pictures
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import oneshot

__all__ = ['Session', 'Example', 'RequestError', 'Conflict', 'DRAFT_FILE',
           'LABELS_DIR', 'GRID_SIZE', 'MAX_EXAMPLES', 'MAX_SEED']

# The autosaved draft, under the workdir.
DRAFT_FILE = pathlib.Path('labeller') / 'draft.npz'
# Where `save` writes the labelled examples, under the workdir.
LABELS_DIR = 'labels'
GRID_SIZE = 8  # predicted samples shown after training
MAX_EXAMPLES = 32  # labelled examples in one session
MAX_SEED = 2**31 - 1
_DRAFT_FORMAT = 'stylegan_seg_jax.labeller_draft.v1'
_IMAGE_CACHE = 64  # sample PNGs kept in memory


class _Stopped(Exception):
  """The session is closing: a running job ends early."""


class RequestError(ValueError):
  """A request the session refuses (bad value): HTTP 400, nothing changed."""


class Conflict(RuntimeError):
  """A request that does not fit the session's state now: HTTP 409."""


@dataclasses.dataclass
class Example:
  """A generated sample and its painted class-id mask.

  Attributes:
    seed: z seed (`stylegan2.z_from_seeds`), -1 when the latent came from an
      imported example.
    w: untruncated latent [w_dim] or W+ [num_ws, w_dim], float32.
    psi: truncation applied to make the image.
    mask: uint8 [R, R] class ids.
  """

  seed: int
  w: np.ndarray
  psi: float
  mask: np.ndarray


def _png(array: np.ndarray) -> bytes:
  buf = io.BytesIO()
  Image.fromarray(array).save(buf, format='PNG')
  return buf.getvalue()


class Session:
  """The labeller's state for one workdir and config.

  Args:
    config: experiment config: the generator, class names
      (`data.class_names`), the method (`generate.method`), the truncation
      (`generate.psi`, else `views.psi`) and the one-shot training settings.
    workdir: the run directory; 'ours' needs its trained SwAV stage.
    examples: a labels directory or example file to start from (instead of
      the draft or `WORKDIR/labels`).
    gen: the generator (default: the config's).
    seed: seed of the random candidates and grid samples.

  Raises:
    config_lib.ConfigError: the method cannot be prepared (no trained SwAV
      stage, unknown method, ...) or the starting examples are unusable.
    ValueError: `workdir` is a URL (the labeller works on local files).
  """

  def __init__(self, config: ml_collections.ConfigDict, workdir: str,
               *, examples: str | None = None,
               gen: stylegan2.Generator | None = None, seed: int = 0):
    self.config = config
    self.workdir = files.require_local(workdir, "the labeller's workdir")
    self.gen = gen or config_lib.load_generator(config)
    self.method = str(config.generate.method)
    self.class_names = tuple(str(n) for n in config.data.class_names)
    self.colours = pictures.palette(len(self.class_names))
    self.psi = config_lib.sample_psi(config)
    self.resolution = int(self.gen.config.resolution)
    self.num_steps = int(config.oneshot.num_steps)
    self.draft_path = self.workdir / DRAFT_FILE
    self.labels_dir = self.workdir / LABELS_DIR
    self._rng = np.random.default_rng(seed)
    self._lock = threading.Lock()
    self._worker = concurrent.futures.ThreadPoolExecutor(
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
    self.examples: list[Example] = []
    self.current = 0
    self.restored_from = self._restore(examples)
    self.job: dict[str, Any] = {'state': 'idle', 'step': 0,
                                'num_steps': self.num_steps, 'version': 0}
    self._trained: tuple[str, Any] | None = None  # (examples key, state)
    self.grid: dict[str, Any] = {'seeds': self._random_seeds(GRID_SIZE),
                                 'version': 0, 'predicted': False}
    self._grid_pictures: list[dict[str, bytes]] = []
    self.regenerate()  # the first grid: samples without predictions

  # --- examples -------------------------------------------------------

  def _random_seeds(self, n: int) -> list[int]:
    return [int(s) for s in self._rng.integers(0, MAX_SEED, n)]

  def _sample(self, seed: int) -> Example:
    z = stylegan2.z_from_seeds([seed], self.gen.config.z_dim)
    w = self.submit(lambda: np.asarray(self.gen.mapping(z, psi=1.0),
                                       np.float32)[0]).result()
    return Example(seed, w, self.psi, self._blank())

  def _blank(self) -> np.ndarray:
    return np.zeros((self.resolution, self.resolution), np.uint8)

  def _from_file(self, e: labelled_set.OneShotExample, where: str) -> Example:
    if e.class_names != self.class_names:
      raise config_lib.ConfigError(
          f'{where}: class names {list(e.class_names)} differ from the '
          f"config's {list(self.class_names)}")
    if e.mask.shape != (self.resolution, self.resolution):
      raise config_lib.ConfigError(
          f'{where}: mask {e.mask.shape} does not match the generator '
          f'resolution {self.resolution}')
    return Example(e.seed, e.w, e.psi, e.mask.copy())

  def _restore(self, examples: str | None) -> str:
    """Loads the starting examples; returns where they came from."""
    if examples is None and self.draft_path.is_file():
      try:
        self._load_draft()
        return str(self.draft_path)
      except (ValueError, KeyError, OSError) as e:
        raise config_lib.ConfigError(
            f'{self.draft_path}: unreadable draft ({messages.one_line(e)}); '
            'move it away to start afresh') from None
    source = examples if examples is not None else (
        self.labels_dir if experiment.example_files(self.labels_dir) else
        None)
    if source is not None:
      path = pathlib.Path(source)
      paths = experiment.example_files(path) if path.is_dir() else [path]
      if not paths or not paths[0].is_file():
        raise config_lib.ConfigError(f'{source}: no labelled example there')
      if len(paths) > MAX_EXAMPLES:
        raise config_lib.ConfigError(
            f'{source}: {len(paths)} examples; the labeller takes at most '
            f'{MAX_EXAMPLES}')
      try:
        self.examples = [self._from_file(labelled_set.load_example(p), str(p))
                         for p in paths]
      except ValueError as e:
        raise config_lib.ConfigError(str(e)) from None
      return str(source)
    self.examples = [self._sample(self._random_seeds(1)[0])]
    return 'a random sample'

  def _load_draft(self) -> None:
    with np.load(self.draft_path, allow_pickle=False) as data:
      if str(data['format']) != _DRAFT_FORMAT:
        raise ValueError(f'format {messages.quote(str(data["format"]))}')
      names = tuple(data['class_names'].tolist())
      if names != self.class_names:
        raise ValueError(f'class names {list(names)} differ from the '
                         f"config's {list(self.class_names)}")
      masks = data['masks']
      if masks.ndim != 3 or masks.shape[1:] != (self.resolution,) * 2:
        raise ValueError(f'masks of shape {masks.shape}')
      examples = []
      for i, mask in enumerate(masks):
        e = labelled_set.OneShotExample(
            w=data[f'w{i}'], psi=float(data['psi'][i]), mask=mask,
            class_names=names, seed=int(data['seeds'][i]))
        examples.append(Example(e.seed, e.w, e.psi, e.mask.copy()))
      current = int(data['current'])
    if not examples:
      raise ValueError('no examples')
    self.examples = examples
    self.current = min(max(current, 0), len(examples) - 1)

  def _autosave(self) -> None:
    """Writes the draft (call with the lock held)."""
    arrays = {'format': np.array(_DRAFT_FORMAT),
              'class_names': np.array(self.class_names, dtype=str),
              'seeds': np.array([e.seed for e in self.examples], np.int64),
              'psi': np.array([e.psi for e in self.examples], np.float64),
              'masks': np.stack([e.mask for e in self.examples]),
              'current': np.array(self.current, np.int64)}
    for i, e in enumerate(self.examples):
      arrays[f'w{i}'] = e.w
    with files.atomic_file(self.draft_path) as tmp:
      with open(tmp, 'wb') as f:
        np.savez(f, **arrays)

  def _index(self, index: int) -> int:
    if not 0 <= index < len(self.examples):
      raise RequestError(f'no example {index} (the session has '
                         f'{len(self.examples)})')
    return index

  @staticmethod
  def check_seed(seed: Any) -> int:
    """A valid sample seed, or RequestError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not (
        0 <= seed <= MAX_SEED):
      raise RequestError(f'seed must be an integer in 0..{MAX_SEED}, got '
                         f'{messages.quote(seed)}')
    return seed

  def describe(self) -> dict[str, Any]:
    """The session as JSON: classes, examples, the job and the grid."""
    with self._lock:
      return {
          'method': self.method,
          'class_names': list(self.class_names),
          'colours': self.colours.tolist(),
          'resolution': self.resolution,
          'psi': self.psi,
          'workdir': str(self.workdir),
          'restored_from': self.restored_from,
          'examples': [{'seed': e.seed, 'labelled': int(np.sum(e.mask > 0))}
                       for e in self.examples],
          'current': self.current,
          'job': dict(self.job),
          'grid': dict(self.grid),
          'trained_on_current': self._trained is not None and (
              self._trained[0] == self._examples_key()),
      }

  def mask(self, index: int) -> bytes:
    """The example's mask: R*R bytes, row-major class ids."""
    with self._lock:
      return self.examples[self._index(index)].mask.tobytes()

  def set_mask(self, index: int, body: bytes) -> None:
    """Replaces the example's mask with R*R class-id bytes; autosaves.

    Raises:
      RequestError: a wrong size or a class id out of range.
    """
    n = self.resolution * self.resolution
    if len(body) != n:
      raise RequestError(f'mask must be {self.resolution}x{self.resolution} '
                         f'= {n} bytes, got {len(body)}')
    mask = np.frombuffer(body, np.uint8).reshape(self.resolution,
                                                 self.resolution)
    top = int(mask.max())
    if top >= len(self.class_names):
      raise RequestError(f'class id {top} out of range (the config has '
                         f'{len(self.class_names)} classes)')
    with self._lock:
      self.examples[self._index(index)].mask = mask.copy()
      self._autosave()

  def set_current(self, index: int) -> None:
    with self._lock:
      self.current = self._index(index)
      self._autosave()

  def set_seed(self, index: int, seed: Any) -> None:
    """Puts the sample of `seed` in example `index` (a blank mask)."""
    seed = self.check_seed(seed)
    example = self._sample(seed)
    with self._lock:
      self.examples[self._index(index)] = example
      self._autosave()

  def add_example(self, seed: Any = None) -> int:
    """Adds a sample (`seed`, else a random one) to label; returns its index.

    Raises:
      RequestError: a bad seed, or the session already has MAX_EXAMPLES.
    """
    seed = self._random_seeds(1)[0] if seed is None else self.check_seed(seed)
    if len(self.examples) >= MAX_EXAMPLES:
      raise RequestError(f'at most {MAX_EXAMPLES} examples per session')
    example = self._sample(seed)
    with self._lock:
      self.examples.append(example)
      self.current = len(self.examples) - 1
      self._autosave()
      return self.current

  def remove_example(self, index: int) -> None:
    with self._lock:
      self._index(index)
      if len(self.examples) == 1:
        raise Conflict('the last example cannot be removed')
      del self.examples[index]
      self.current = min(self.current, len(self.examples) - 1)
      self._autosave()

  def random_seed(self) -> int:
    """A fresh random candidate seed."""
    with self._lock:
      return self._random_seeds(1)[0]

  def image(self, index: int) -> bytes:
    """PNG of the example's generated sample (cached)."""
    with self._lock:
      e = self.examples[self._index(index)]
    key = hashlib.sha256(e.w.tobytes() + str(e.psi).encode()).hexdigest()
    with self._lock:
      data = self._images.get(key)
    if data is None:
      img = self.submit(lambda: labelling.render(
          self.gen, e.w[None], e.psi)[0]).result()
      data = _png(img)
      with self._lock:
        self._images[key] = data
        while len(self._images) > _IMAGE_CACHE:
          self._images.popitem(last=False)
    return data

  def _examples_key(self) -> str:
    h = hashlib.sha256()
    for e in self.examples:
      h.update(e.w.tobytes() + str(e.psi).encode() + e.mask.tobytes())
    return h.hexdigest()

  def _one_shot(self, e: Example) -> labelled_set.OneShotExample:
    return labelled_set.OneShotExample(w=e.w, psi=e.psi, mask=e.mask,
                                       class_names=self.class_names,
                                       seed=e.seed)

  # --- the worker -----------------------------------------------------

  def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
    """Runs `fn` in the session's one worker thread."""
    return self._worker.submit(fn)

  def close(self) -> None:
    """Stops a running job at its next step and ends the worker."""
    self._stop.set()
    self._worker.shutdown(wait=True, cancel_futures=True)

  def start_training(self) -> int:
    """Starts training on every example, then predicting the grid.

    Returns:
      The job's version number (it grows with every job).

    Raises:
      Conflict: a job is already running.
    """
    with self._lock:
      if self.job['state'] in ('training', 'predicting'):
        raise Conflict('training is already running')
      examples = [self._one_shot(dataclasses.replace(e, mask=e.mask.copy()))
                  for e in self.examples]
      key = self._examples_key()
      version = self.job['version'] + 1
      self.job = {'state': 'training', 'step': 0, 'num_steps': self.num_steps,
                  'version': version, 'started': time.time()}
    self.submit(lambda: self._run_job(examples, key))
    return version

  def regenerate(self) -> int:
    """New grid samples; predicted in the worker when a head is trained.

    Raises:
      Conflict: a job is running.
    """
    with self._lock:
      if self.job['state'] in ('training', 'predicting'):
        raise Conflict('training is running; regenerate when it is done')
      seeds = self._random_seeds(GRID_SIZE)
      version = self.job['version'] + 1
      self.job = {**self.job, 'state': 'predicting', 'version': version,
                  'started': time.time()}
    self.submit(lambda: self._run_job(None, None, seeds))
    return version

  def _run_job(self, examples, key, seeds=None) -> None:
    t0 = time.perf_counter()
    try:
      if examples is not None:
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

  def _train(self, examples) -> oneshot.OneShotState:
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
    """Class colours, opaque; the background (class 0) and ids beyond the
    classes transparent, as the page shows the painted mask."""
    c = len(self.class_names)
    out = np.zeros(labels.shape + (4,), np.uint8)
    shown = (labels > 0) & (labels < c)
    out[..., :3] = self.colours[np.where(shown, labels, 0)]
    out[..., 3] = np.where(shown, 255, 0)
    return out

  def grid_picture(self, index: int, kind: str) -> bytes:
    """PNG of grid cell `index`: 'image' or 'mask' (class colours)."""
    with self._lock:
      cells = self._grid_pictures
    if not 0 <= index < len(cells) or kind not in cells[index]:
      raise RequestError(f'no grid {kind} {index}')
    return cells[index][kind]

  # --- saving ---------------------------------------------------------

  def save(self) -> dict[str, str]:
    """Writes the examples and the trained head (in the worker).

    The examples go to `WORKDIR/labels/` (`example.npz`, `example_1.npz`,
    ...: what `--config.data.oneshot=WORKDIR/labels` trains on), replacing
    the previous save as a whole. The head becomes the checkpoint of the
    workdir's one-shot stage of the method (`oneshot/<method>/`), with the
    settings of this config and those labels. A stage directory trained
    from other settings (another example) is kept, renamed
    `<method>.replaced-<UTC time>`.

    Returns:
      {'labels': directory, 'head': stage directory, 'kept': renamed
      directory or ''}.

    Raises:
      Conflict: no head trained on the current examples, or a job running.
    """
    with self._lock:
      if self.job['state'] in ('training', 'predicting'):
        raise Conflict('training is running; save when it is done')
      if self._trained is None or self._trained[0] != self._examples_key():
        raise Conflict('the head is not trained on the current examples: '
                       'click Train first')
      examples = [self._one_shot(e) for e in self.examples]
      state = self._trained[1]
    return self.submit(lambda: self._write(examples, state)).result()

  def _write(self, examples, state) -> dict[str, str]:
    images = [labelling.render(self.gen, e.w[None], e.psi)[0]
              for e in examples]
    labels_dir = self.labels_dir  # as the workdir was given: how the
    # docs tell users to name it in --config.data.oneshot
    with files.atomic_directory(labels_dir, overwrite=True) as tmp:
      for i, (e, img) in enumerate(zip(examples, images)):
        name = (experiment.EXAMPLE_FILE if i == 0 else f'example_{i}.npz')
        labelled_set.save_example(tmp / name, dataclasses.replace(
            e, image=img))
    config = copy.deepcopy(self.config)
    config.data.oneshot = os.fspath(labels_dir)
    settings = config_lib.stage_settings(config, 'oneshot', self.method)
    stage_dir = oneshot.method_dir(self.workdir, self.method)
    kept = ''
    record = stage_dir / config_lib.SETTINGS_FILE
    if stage_dir.exists() and not (
        record.is_file() and json.loads(record.read_text()) == settings):
      stamp = datetime.datetime.now(datetime.UTC).strftime('%Y%m%d-%H%M%S')
      kept_dir = stage_dir.with_name(f'{stage_dir.name}.replaced-{stamp}')
      os.rename(stage_dir, kept_dir)
      kept = str(kept_dir)
    host = jax.tree.map(np.asarray, jax.device_get(state))
    with files.atomic_directory(stage_dir, overwrite=True) as tmp:
      (tmp / config_lib.SETTINGS_FILE).write_text(
          json.dumps(settings, indent=2, sort_keys=True))
      ckpt = checkpointing.CheckpointManager(tmp / 'checkpoints')
      try:
        ckpt.save(int(host.step), host)
        ckpt.wait()
      finally:
        ckpt.close()
    return {'labels': str(labels_dir), 'head': str(stage_dir), 'kept': kept}

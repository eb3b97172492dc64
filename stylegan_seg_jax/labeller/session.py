"""One labelling session: painted examples, training, predictions, saving.

The state behind the browser labeller (`labeller.server`), usable without
it. A session holds the labelled examples being painted (a generated sample
each: seed, untruncated latent, truncation, class-id mask), trains the
configured method's head on all of them with the one-shot stage's own step
(`stages.oneshot.fit`) and segments a grid of new samples with the
evaluator's segmentation function.

`Session` is the facade the web app calls; its parts are

* `examples`: the Example record, the starting examples (the draft, else
  example files, else a random sample) and the draft's load and save;
* `worker`: the ONE worker thread that runs every generator or head
  computation (`submit`), so requests never race on the device: the jobs
  (training, then predicting the grid) and their pictures;
* `saving`: Save's labels and head;
* `refusals`: the errors a refused request raises (RequestError, Conflict).

Bookkeeping is guarded by one lock. The examples are autosaved to
`WORKDIR/labeller/draft.npz` on every change (atomically), and a new session
in the same workdir starts from that draft. `save` writes the examples
where `--config.data.oneshot=` reads them and the trained head as the
workdir's one-shot stage of the method, so `evaluate` and `generate` use it
directly.
"""

from __future__ import annotations

from collections.abc import Callable
import concurrent.futures
import dataclasses
import threading
from typing import Any

import ml_collections
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.labeller import examples as examples_lib
from stylegan_seg_jax.labeller import saving
from stylegan_seg_jax.labeller import worker as worker_lib
from stylegan_seg_jax.labeller.examples import DRAFT_FILE
from stylegan_seg_jax.labeller.examples import LABELS_DIR
from stylegan_seg_jax.labeller.examples import MAX_EXAMPLES
from stylegan_seg_jax.labeller.examples import MAX_SEED
from stylegan_seg_jax.labeller.examples import Example
from stylegan_seg_jax.labeller.refusals import Conflict
from stylegan_seg_jax.labeller.refusals import RequestError
from stylegan_seg_jax.labeller.worker import GRID_SIZE
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import pictures
from stylegan_seg_jax.stages import config as config_lib

__all__ = ['Session', 'Example', 'RequestError', 'Conflict', 'DRAFT_FILE',
           'LABELS_DIR', 'GRID_SIZE', 'MAX_EXAMPLES', 'MAX_SEED']


class Session:
  """The labeller's state for one workdir and config."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str,
               *, examples: str | None = None,
               gen: stylegan2.Generator | None = None, seed: int = 0):
    """Prepares the method, restores the examples and draws the first grid.

    Args:
      config: experiment config: the generator, class names
        (`data.class_names`), the method (`generate.method`), the truncation
        (`generate.psi`, else `views.psi`) and the one-shot training
        settings.
      workdir: the run directory; 'ours' needs its trained SwAV stage.
      examples: a labels directory or example file to start from (instead
        of the draft or `WORKDIR/labels`).
      gen: the generator (default: the config's).
      seed: seed of the random candidates and grid samples.

    Raises:
      config_lib.ConfigError: the method cannot be prepared (no trained
        SwAV stage, unknown method, ...) or the starting examples are
        unusable.
      ValueError: `workdir` is a URL (the labeller works on local files).
    """
    self.config = config
    self.workdir = files.require_local(workdir, "the labeller's workdir")
    self.gen = gen or config_lib.load_generator(config)
    self.class_names = tuple(str(n) for n in config.data.class_names)
    self.colours = pictures.palette(len(self.class_names))
    self.psi = config_lib.sample_psi(config)
    self.resolution = int(self.gen.config.resolution)
    self.draft_path = self.workdir / DRAFT_FILE
    self.labels_dir = self.workdir / LABELS_DIR
    self._rng = np.random.default_rng(seed)
    self._lock = threading.Lock()
    self._worker = worker_lib.Worker(
        config, self.workdir, self.gen, class_names=self.class_names,
        colours=self.colours, psi=self.psi, lock=self._lock,
        random_seeds=self._random_seeds)
    self.method = self._worker.method
    self.num_steps = self._worker.num_steps
    self.examples: list[Example] = []
    self.current = 0
    self.restored_from = self._restore(examples)
    self._worker.start()  # the first grid: samples without predictions

  @property
  def job(self) -> dict[str, Any]:
    """The newest job (`worker.Worker.job`); read it with the lock held."""
    return self._worker.job

  @property
  def grid(self) -> dict[str, Any]:
    """The grid (`worker.Worker.grid`); read it with the lock held."""
    return self._worker.grid

  # --- examples -------------------------------------------------------

  def _random_seeds(self, n: int) -> list[int]:
    return [int(s) for s in self._rng.integers(0, MAX_SEED, n)]

  def _sample(self, seed: int) -> Example:
    return Example(seed, self._worker.latent(seed), self.psi, self._blank())

  def _blank(self) -> np.ndarray:
    return np.zeros((self.resolution, self.resolution), np.uint8)

  def _restore(self, source: str | None) -> str:
    """Loads the starting examples; returns where they came from."""
    restored = examples_lib.restore(source, self.draft_path, self.labels_dir,
                                    self.class_names, self.resolution)
    if restored is None:
      self.examples = [self._sample(self._random_seeds(1)[0])]
      return 'a random sample'
    self.examples, self.current, where = restored
    return where

  def _autosave(self) -> None:
    """Writes the draft (call with the lock held)."""
    examples_lib.save_draft(self.draft_path, self.examples, self.class_names,
                            self.current)

  def _index(self, index: int) -> int:
    if not 0 <= index < len(self.examples):
      raise RequestError(f'no example {index} (the session has '
                         f'{len(self.examples)})')
    return index

  def _examples_key(self) -> str:
    return examples_lib.examples_key(self.examples)

  @staticmethod
  def check_seed(seed: Any) -> int:
    """A valid sample seed, or RequestError."""
    return examples_lib.check_seed(seed)

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
          'trained_on_current': (
              self._worker.head(self._examples_key()) is not None),
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
    """Makes example `index` the one shown; autosaves.

    Raises:
      RequestError: no such example.
    """
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
    """Removes example `index`; autosaves.

    Raises:
      RequestError: no such example.
      Conflict: it is the last one.
    """
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
    return self._worker.sample_png(e.w, e.psi)

  # --- the worker -----------------------------------------------------

  def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
    """Runs `fn` in the session's one worker thread."""
    return self._worker.submit(fn)

  def close(self) -> None:
    """Stops a running job at its next step and ends the worker."""
    self._worker.close()

  def start_training(self) -> int:
    """Starts training on every example, then predicting the grid.

    Returns:
      The job's version number (it grows with every job).

    Raises:
      Conflict: a job is already running.
    """
    with self._lock:
      examples = [examples_lib.to_one_shot(
          dataclasses.replace(e, mask=e.mask.copy()), self.class_names)
                  for e in self.examples]
      key = self._examples_key()
    return self._worker.start_training(examples, key)

  def regenerate(self) -> int:
    """New grid samples; predicted in the worker when a head is trained.

    Returns:
      The job's version number.

    Raises:
      Conflict: a job is running.
    """
    return self._worker.regenerate()

  def grid_picture(self, index: int, kind: str) -> bytes:
    """PNG of grid cell `index`: 'image' or 'mask' (class colours)."""
    return self._worker.grid_picture(index, kind)

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
      if self._worker.busy():
        raise Conflict('training is running; save when it is done')
      state = self._worker.head(self._examples_key())
      if state is None:
        raise Conflict('the head is not trained on the current examples: '
                       'click Train first')
      examples = [examples_lib.to_one_shot(e, self.class_names)
                  for e in self.examples]
    return self.submit(lambda: saving.write(
        self.config, self.workdir, self.method, self.gen, self.labels_dir,
        examples, state)).result()

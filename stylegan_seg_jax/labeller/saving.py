"""The labeller's Save: the labels and the head as the one-shot stage.

The examples go where `--config.data.oneshot=` reads them and the trained
head becomes the workdir's one-shot stage of the method, so `evaluate` and
`generate` use it directly.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import os
import pathlib

import jax
import ml_collections
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.data import labelling
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import oneshot

__all__ = ['write']


def write(config: ml_collections.ConfigDict, workdir: pathlib.Path,
          method: str, gen: stylegan2.Generator, labels_dir: pathlib.Path,
          examples: list[labelled_set.OneShotExample],
          state: oneshot.OneShotState) -> dict[str, str]:
  """Writes the examples and the trained head (in the worker thread).

  The examples go to `labels_dir` (`example.npz`, `example_1.npz`, ...:
  what `--config.data.oneshot=labels_dir` trains on) with their rendered
  samples, replacing the previous save as a whole. The head becomes the
  checkpoint of the workdir's one-shot stage of the method
  (`oneshot/<method>/`), with the settings of `config` and those labels. A
  stage directory trained from other settings (another example) is kept,
  renamed `<method>.replaced-<UTC time>`.

  Args:
    config: the session's experiment config.
    workdir: the run directory.
    method: the method of the head.
    gen: the generator (renders the examples' samples).
    labels_dir: where the examples go, as the workdir was given: how the
      docs tell users to name it in `--config.data.oneshot`.
    examples: the examples.
    state: the head trained on them.

  Returns:
    {'labels': directory, 'head': stage directory, 'kept': renamed
    directory or ''}.
  """
  images = [labelling.render(gen, e.w[None], e.psi)[0] for e in examples]
  with files.atomic_directory(labels_dir, overwrite=True) as tmp:
    for i, (e, img) in enumerate(zip(examples, images)):
      name = (experiment.EXAMPLE_FILE if i == 0 else f'example_{i}.npz')
      labelled_set.save_example(tmp / name, dataclasses.replace(
          e, image=img))
  config = copy.deepcopy(config)
  config.data.oneshot = os.fspath(labels_dir)
  settings = config_lib.stage_settings(config, 'oneshot', method)
  stage_dir = oneshot.method_dir(workdir, method)
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

"""The annotated dataset `generate` writes: sharded TFDS ArrayRecord files.

    OUT/generation.json                                   settings record
    OUT/segmented_samples-train.array_record-0000i-of-0000n   shards
    OUT/dataset_info.json, OUT/features.json               TFDS metadata
    OUT/preview.png                                       image, overlay, mask

Shard i holds the seeds `seed_start + i * shard_size` onward (`ShardPlan`),
so a seed's shard never depends on the machine; each shard is written under
a scratch name and renamed when complete. The settings record is written
first and checked on every rerun (`prepare_out`), the TFDS metadata last,
once every shard exists (`finalize`). The files read with plain tfds:

    tfds.builder_from_directory(OUT).as_data_source('train')

Errors are ValueError with a one-line message.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import json
import os
import pathlib
from typing import Any

# The module form: pyright cannot see a compiled submodule as a package
# attribute (`from array_record.python import array_record_module`).
import array_record.python.array_record_module as array_record_module
import numpy as np
import tensorflow_datasets as tfds

from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import pictures

__all__ = ['DATASET_NAME', 'SPLIT', 'SETTINGS_FILE', 'PREVIEW_FILE', 'FORMAT',
           'ShardPlan', 'keep_confident', 'prepare_out', 'write_shard',
           'remove_stale', 'finalize']

DATASET_NAME = 'segmented_samples'
SPLIT = 'train'
SETTINGS_FILE = 'generation.json'
PREVIEW_FILE = 'preview.png'
FORMAT = 'stylegan_seg_jax.generated_dataset.v1'


@dataclasses.dataclass(frozen=True)
class ShardPlan:
  """Which seeds go to which shard file, and which process writes it.

  Attributes:
    num_samples: N, the number of seeds.
    seed_start: the first seed.
    shard_size: seeds per shard (the last shard may hold fewer).
  """

  num_samples: int
  seed_start: int
  shard_size: int

  @property
  def num_shards(self) -> int:
    """The number of shard files."""
    return -(-self.num_samples // self.shard_size)

  def seeds(self, shard: int) -> range:
    """The seeds of one shard, in order."""
    lo = shard * self.shard_size
    hi = min(lo + self.shard_size, self.num_samples)
    return range(self.seed_start + lo, self.seed_start + hi)

  def shards_of(self, process_index: int, process_count: int) -> list[int]:
    """The shards process `process_index` of `process_count` writes."""
    return list(range(process_index, self.num_shards, process_count))

  def filename(self, shard: int) -> str:
    """The shard's file name (the TFDS default template)."""
    return (f'{DATASET_NAME}-{SPLIT}.array_record-'
            f'{shard:05d}-of-{self.num_shards:05d}')


def keep_confident(uncertainty: np.ndarray, drop: float) -> np.ndarray:
  """Indices kept in order: all but the round(drop * n) most uncertain."""
  n = len(uncertainty)
  k = int(round(drop * n))
  if k == 0:
    return np.arange(n)
  order = np.argsort(-uncertainty, kind='stable')  # most uncertain first
  return np.sort(order[k:])


def prepare_out(out: pathlib.Path, settings: dict[str, Any]) -> None:
  """Creates OUT with its settings record, or checks an existing one matches.

  Raises:
    ValueError: OUT is not a directory, holds a dataset made with other
      settings (the differing keys are named), or holds files this tool
      did not write.
  """
  if out.exists() and not out.is_dir():
    raise ValueError(f'--out {out} exists and is not a directory')
  record = out / SETTINGS_FILE
  if record.is_file():
    try:
      old = json.loads(record.read_text())
    except json.JSONDecodeError:
      raise ValueError(f'{record} is not valid JSON') from None
    diff = sorted(k for k in set(old) | set(settings)
                  if old.get(k) != settings.get(k))
    if diff:
      shown = ', '.join(f'{k}: {old.get(k)!r} -> {settings.get(k)!r}'
                        for k in diff[:3] if 'sha256' not in k)
      raise ValueError(
          f'--out {out} holds a dataset made with other settings '
          f'({", ".join(diff)}{"; " + shown if shown else ""}); choose '
          'another --out or delete it')
    return
  # (Another process of the same run may be writing the record right now.)
  if out.is_dir() and any(not p.name.startswith(f'.{SETTINGS_FILE}.tmp-')
                          for p in out.iterdir()):
    raise ValueError(f'--out {out} is not empty and was not written by this '
                     f'tool (no {SETTINGS_FILE})')
  with files.atomic_file(record) as tmp:
    tmp.write_text(json.dumps(settings, indent=2))


def write_shard(path: pathlib.Path, records: Sequence[bytes]) -> None:
  """Writes serialized examples to one shard file, atomically."""
  with files.atomic_file(path) as tmp:
    writer = array_record_module.ArrayRecordWriter(os.fspath(tmp),
                                                   'group_size:1')
    for r in records:
      writer.write(r)
    writer.close()


def remove_stale(out: pathlib.Path, plan: ShardPlan,
                 shards: Sequence[int]) -> None:
  """Removes scratch files of `shards` left behind by a killed run."""
  if files.is_url(out):  # uploads are whole objects: nothing is left behind
    return
  wanted = {plan.filename(s) for s in shards}
  for stale in out.glob(f'.{DATASET_NAME}-*.tmp-*'):
    if stale.name[1:].split('.tmp-')[0] in wanted:
      stale.unlink(missing_ok=True)


def finalize(out: pathlib.Path, plan: ShardPlan, settings: dict[str, Any],
             features: tfds.features.FeaturesDict, num_classes: int,
             num_preview: int = 8) -> int:
  """Writes the TFDS metadata and the preview; returns the example count.

  Raises:
    ValueError: a shard is missing (another process failed).
  """
  missing = [s for s in range(plan.num_shards)
             if not (out / plan.filename(s)).is_file()]
  if missing:
    raise ValueError(
        f'{len(missing)} shard(s) missing in {out} (first: '
        f'{plan.filename(missing[0])}; did another process fail?); rerun to '
        'complete them')
  lengths, num_bytes = [], 0
  for s in range(plan.num_shards):
    path = out / plan.filename(s)
    reader = array_record_module.ArrayRecordReader(os.fspath(path))
    lengths.append(int(reader.num_records()))
    reader.close()
    num_bytes += files.file_size(path)
  split = tfds.core.SplitInfo(name=SPLIT, shard_lengths=lengths,
                              num_bytes=num_bytes)
  meta = {k: settings[k] for k in ('class_names', 'truncation_psi', 'method',
                                   'method_step', 'generator', 'noise_mode',
                                   'seed_start', 'drop_uncertain')}
  tfds.folder_dataset.write_metadata(
      data_dir=os.fspath(out), features=features, split_infos=[split],
      check_data=False,
      description=(f'{sum(lengths)} samples of generator '
                   f'{settings["generator"]} segmented by '
                   f'{settings["method"]} (stylegan-seg generate).'),
      metadata=tfds.core.MetadataDict(meta))
  builder = tfds.builder_from_directory(os.fspath(out))
  # wrapt's typing of tfds's logging decorator drops `split` from the
  # method's signature, as if it were `self`.
  source = builder.as_data_source(SPLIT)  # pyright: ignore[reportCallIssue]
  rows = [source[i] for i in range(min(num_preview, len(source)))]
  if rows:
    tiles = [[r['image'] for r in rows],
             [pictures.overlay(r['image'], r['mask'], num_classes)
              for r in rows],
             [pictures.colorize(r['mask'], num_classes) for r in rows]]
    with files.atomic_file(out / PREVIEW_FILE) as tmp:
      pictures.save_grid(tmp, tiles,
                         scale=max(1, 128 // rows[0]['mask'].shape[0]),
                         footer=pictures.legend(settings['class_names']))
  return sum(lengths)

"""`stylegan-seg predict`: a folder of images through the downstream network.

  stylegan-seg predict --workdir=workdirs/toy/downstream_ours \
      --images=photos/ --out=photos_segmented/

Loads the network the downstream stage exported
(WORKDIR/downstream/network) and writes, for every PNG image of --images,
OUT/masks/NAME.png (class ids), OUT/overlays/NAME.png and
OUT/classes.json (docs/downstream.md). Refuses a non-empty --out unless
--overwrite; a failed run writes nothing.
"""

from __future__ import annotations

from absl import flags

from stylegan_seg_jax.commands import bootstrap
from stylegan_seg_jax.runtime import errors

__all__ = ['run']

_WORKDIR = bootstrap.workdir_flag()
_OUT = bootstrap.out_flag()
_BATCH_SIZE = bootstrap.batch_size_flag(32)
_OVERWRITE = bootstrap.overwrite_flag()
_IMAGES = flags.DEFINE_string(
    'images', None, 'A folder of PNG images to segment (not recursive).')


def main(argv: list[str]) -> None:
  """Segments the folder and prints what it wrote."""
  del argv
  from stylegan_seg_jax.downstream import exported  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.downstream import predict  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.runtime import files  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.runtime import loop  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import downstream  # pylint: disable=g-import-not-at-top
  if _BATCH_SIZE.value < 1:
    raise errors.UsageError(f'--batch_size must be positive, got '
                            f'{_BATCH_SIZE.value}')
  images, out = bootstrap.given(_IMAGES), bootstrap.given(_OUT)
  net = exported.load(files.as_path(bootstrap.given(_WORKDIR)) /
                      downstream.STAGE_DIR / downstream.NETWORK_DIR)
  total = len(predict.image_files(images))
  with loop.progress_bar(total, desc='predict', unit='img') as bar:
    count = predict.predict_folder(net, images, out,
                                   batch_size=_BATCH_SIZE.value,
                                   overwrite=_OVERWRITE.value,
                                   progress=bar.update)
  print(f'wrote {count} masks and overlays to {out}')


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='predict', argv=argv,
                required=('workdir', 'images', 'out'),
                expected=(ValueError, FileExistsError),
                local_paths=('images', 'out'))

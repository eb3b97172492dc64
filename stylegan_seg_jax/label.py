"""Labelling binary: paint in the browser, or export / import a mask.

  python -m stylegan_seg_jax.label serve --config=configs/toy_swav.py \
      --workdir=workdirs/quickstart [--host=127.0.0.1] [--port=8765]
  python -m stylegan_seg_jax.label export --config=configs/toy_swav.py \
      --seed=7 --out=label7
  python -m stylegan_seg_jax.label import --export=label7 --mask=painted.png \
      [--out=label7] [--palette=JSON]
  python -m stylegan_seg_jax.label import_reference \
      --config=configs/ffhq256.py --config.generator_dir=ffhq \
      --latents=latents.pt --labels=labels.pt --name=ffhq --out=data

`serve` starts the browser labeller on the workdir (after its SwAV stage
for the default method 'ours'): paint a sample, Train, see new samples
segmented, Save (WORKDIR/labels/ and the head in WORKDIR/oneshot/METHOD/).

The generator, its resolution, the truncation psi (`generate.psi`, else
`views.psi`: the way generated samples are made; `data.reference_psi` for
imported test data when set) and the class names (`data.class_names`) come
from the config. `export` writes the sample's
image, latent and palette into OUT; `import` writes OUT/example.npz (OUT
defaults to the export), which `--config.data.oneshot=OUT` trains on;
`import_reference` writes a labelled TFDS test set under OUT
(`--config.data.test_set=` the printed directory). See docs/cli.md.

Exit status: 0 on success, 1 on bad input (`label: error: ...`, one line on
stderr, nothing written), 2 on a bad command line.
"""

import pathlib

from absl import flags

from stylegan_seg_jax.runtime import cli

USAGE = '''\
usage: python -m stylegan_seg_jax.label COMMAND [flags]
  serve --config=CONFIG --workdir=DIR [--host=127.0.0.1] [--port=8765]
      [--examples=DIR_OR_NPZ]
  export --config=CONFIG --seed=N --out=DIR [--overwrite]
  import --export=DIR --mask=PNG [--out=DIR] [--palette=JSON] [--overwrite]
  import_reference --config=CONFIG --latents=latents.pt --labels=labels.pt
      --name=NAME --out=DIR'''

COMMANDS = ('serve', 'export', 'import', 'import_reference')
# The file `import` writes into --out.
EXAMPLE_FILE = 'example.npz'

_CONFIG = cli.config_flag()
_WORKDIR = cli.workdir_flag()
_HOST = flags.DEFINE_string(
    'host', '127.0.0.1', 'serve: address to listen on (only this machine '
    'by default; 0.0.0.0 exposes the labeller to the network).')
_PORT = flags.DEFINE_integer('port', 8765, 'serve: port (0: any free one).')
_EXAMPLES = flags.DEFINE_string(
    'examples', None, 'serve: start from these labelled examples (a labels '
    'directory or an example .npz) instead of the autosaved draft.')
_SEED = cli.seed_flag()
_OUT = cli.out_flag()
_OVERWRITE = cli.overwrite_flag()
_EXPORT = flags.DEFINE_string('export', None, 'import: the export directory.')
_MASK = flags.DEFINE_string('mask', None, 'import: the painted mask image.')
_PALETTE = flags.DEFINE_string(
    'palette', None, "import: palette JSON (default: the export's).")
_LATENTS = flags.DEFINE_string('latents', None,
                               'import_reference: latents.pt.')
_LABELS = flags.DEFINE_string('labels', None, 'import_reference: labels.pt.')
_NAME = flags.DEFINE_string('name', None, 'import_reference: dataset name.')
# Spellings of the first release; the config now carries these values.
_REPLACED_BY = {'generator': '--config.generator_dir',
                'resolution': '--config.resolution',
                'psi': '--config.generate.psi',
                'class_names': '--config.data.class_names',
                'data_dir': '--out'}
_DEPRECATED = {
    name: cli.deprecated_flag(
        name, new, flags.DEFINE_integer if name == 'resolution' else
        flags.DEFINE_float if name == 'psi' else flags.DEFINE_string, None)
    for name, new in _REPLACED_BY.items()}
_ALLOWED = {
    'serve': {'config', 'workdir', 'host', 'port', 'examples'},
    'export': {'config', 'seed', 'out', 'overwrite', 'generator',
               'resolution', 'psi', 'class_names'},
    'import': {'export', 'mask', 'out', 'palette', 'overwrite'},
    'import_reference': {'config', 'latents', 'labels', 'name', 'out',
                         'generator', 'resolution', 'psi', 'class_names',
                         'data_dir'},
}
_REQUIRED = {'serve': ('config', 'workdir'), 'export': ('seed', 'out'),
             'import': ('export', 'mask'),
             'import_reference': ('latents', 'labels', 'name')}
_DEFAULT_PSI = {'export': 1.0, 'import_reference': 0.7}  # without a config


def _check_flags(command: str) -> None:
  for name in sorted({n for names in _ALLOWED.values() for n in names}):
    if flags.FLAGS[name].present and name not in _ALLOWED[command]:
      raise cli.UsageError(f'--{name} does not apply to {command}')
  for name in _REQUIRED[command]:
    if flags.FLAGS[name].value is None:
      raise cli.UsageError(f'--{name} is required for {command}')


def _generator_settings(command: str):
  """(generator, its name, psi, class names) from the config and old flags."""
  from stylegan_seg_jax import toy  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import config as config_lib  # pylint: disable=g-import-not-at-top
  old = {k: h.value for k, h in _DEPRECATED.items()
         if h.present and k != 'data_dir'}
  for k in old:
    cli.warn('label', f'--{k} is deprecated; use --config (and '
             f'{_REPLACED_BY[k]})')
  config = _CONFIG.value if flags.FLAGS['config'].present else None
  if config is None and 'generator' not in old:
    raise cli.UsageError(f'--config is required for {command}')
  name = old.get('generator', config.generator_dir if config else None)
  resolution = old.get('resolution',
                       config.get('resolution') if config else None)
  if 'psi' in old:
    psi = old['psi']
  elif config is not None:
    psi = config.views.psi if config.generate.psi is None else (
        config.generate.psi)
  else:
    psi = _DEFAULT_PSI[command]
  if 'class_names' in old:
    names = old['class_names']
  elif config is not None:
    names = tuple(config.data.class_names)
  elif name == config_lib.TOY_GENERATOR:
    names = toy.CLASS_NAMES
  else:
    raise cli.UsageError('--class_names is required unless --generator=toy '
                         '(better: --config)')
  gen = config_lib.load_generator_dir(name, resolution)
  return gen, str(name), float(psi), names


def _serve() -> None:
  from stylegan_seg_jax.labeller import server  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.labeller import session  # pylint: disable=g-import-not-at-top
  host, port = _HOST.value, _PORT.value
  if not 0 <= port <= 65535:
    raise cli.UsageError(f'--port must be in 0..65535, got {port}')
  try:
    sock = server.bind(host, port)
  except OSError as e:
    raise cli.UserError(f'cannot listen on {host}:{port}: {e.strerror or e}'
                        ) from None
  try:
    s = session.Session(_CONFIG.value, _WORKDIR.value,
                        examples=_EXAMPLES.value)
    port = sock.getsockname()[1]
    shown = f'[{host}]' if ':' in host else host
    hosts = ('127.0.0.1', 'localhost', '::1', '[::1]', host)
    if host in ('0.0.0.0', '::'):
      cli.warn('label', f'listening on every interface ({host}): anyone who '
               'can reach this machine can use the labeller')
      hosts = ('*',)
    app = server.make_app(s, allowed_hosts=hosts)
    print(f'labeller: http://{shown}:{port}/  (method {s.method}, '
          f'{len(s.examples)} example(s) from {s.restored_from}; Ctrl-C '
          'stops)', flush=True)
    try:
      server.serve(app, sock)
    finally:
      s.close()
  finally:
    sock.close()


def main(argv: list[str]) -> None:
  command = argv[1]
  _check_flags(command)
  if command == 'serve':
    _serve()
    return
  from stylegan_seg_jax.data import labelling  # pylint: disable=g-import-not-at-top
  if command == 'export':
    gen, name, psi, names = _generator_settings(command)
    labelling.export(gen, _SEED.value, _OUT.value, psi=psi, class_names=names,
                     generator_name=name, overwrite=_OVERWRITE.value)
  elif command == 'import':
    out = pathlib.Path(_OUT.value or _EXPORT.value)
    if out.suffix == '.npz':  # the old spelling named the file itself
      cli.warn('label', '--out is a directory; naming the .npz file is '
               'deprecated')
    else:
      out = out / EXAMPLE_FILE
    labelling.import_mask(_EXPORT.value, _MASK.value, out,
                          palette=_PALETTE.value, overwrite=_OVERWRITE.value)
  else:
    data_dir = _OUT.value
    if _DEPRECATED['data_dir'].present:
      cli.warn('label', '--data_dir is deprecated; use --out')
      data_dir = data_dir or _DEPRECATED['data_dir'].value
    if data_dir is None:
      raise cli.UsageError('--out is required for import_reference')
    gen, name, psi, names = _generator_settings(command)
    config = _CONFIG.value if flags.FLAGS['config'].present else None
    label_size = None
    if config is not None:
      if config.data.reference_psi is not None and not (
          _DEPRECATED['psi'].present):
        psi = float(config.data.reference_psi)
      label_size = config.data.reference_label_size
    reference_data.import_reference(_LATENTS.value, _LABELS.value, gen, names,
                               data_dir, _NAME.value, psi=psi,
                               generator_name=name, label_size=label_size)


if __name__ == '__main__':
  cli.run(main, name='label', usage=USAGE, commands=COMMANDS,
          expected=(ValueError, OSError),
          local_paths=('workdir', 'out', 'export', 'mask', 'palette', 'latents',
                       'labels', 'examples', 'data_dir'))

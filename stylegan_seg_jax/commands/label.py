"""`stylegan-seg label`: paint in the browser, or export / import a mask.

  stylegan-seg label serve --config=configs/toy_swav.py \
      --workdir=workdirs/quickstart [--host=127.0.0.1] [--port=8765]
  stylegan-seg label export --config=configs/toy_swav.py --seed=7 \
      --out=label7
  stylegan-seg label import --export=label7 --mask=painted.png \
      [--out=label7] [--palette=JSON]
  stylegan-seg label import_reference --config=configs/ffhq256.py \
      --config.generator_dir=ffhq --latents=latents.pt --labels=labels.pt \
      --name=ffhq --out=data

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

from __future__ import annotations

import pathlib

from absl import flags

from stylegan_seg_jax.commands import bootstrap
from stylegan_seg_jax.runtime import errors

__all__ = ['run', 'COMMANDS', 'EXAMPLE_FILE']

USAGE = '''\
usage: stylegan-seg label ACTION [flags]
  serve --config=CONFIG --workdir=DIR [--host=127.0.0.1] [--port=8765]
      [--examples=DIR_OR_NPZ]
  export --config=CONFIG --seed=N --out=DIR [--overwrite]
  import --export=DIR --mask=PNG [--out=DIR] [--palette=JSON] [--overwrite]
  import_reference --config=CONFIG --latents=latents.pt --labels=labels.pt
      --name=NAME --out=DIR'''

# The actions, the one positional argument.
COMMANDS = ('serve', 'export', 'import', 'import_reference')
# The file `import` writes into --out.
EXAMPLE_FILE = 'example.npz'

_CONFIG = bootstrap.config_flag()
_WORKDIR = bootstrap.workdir_flag()
_HOST = flags.DEFINE_string(
    'host', '127.0.0.1', 'serve: address to listen on (only this machine '
    'by default; 0.0.0.0 exposes the labeller to the network).')
_PORT = flags.DEFINE_integer('port', 8765, 'serve: port (0: any free one).')
_EXAMPLES = flags.DEFINE_string(
    'examples', None, 'serve: start from these labelled examples (a labels '
    'directory or an example .npz) instead of the autosaved draft.')
_SEED = bootstrap.seed_flag()
_OUT = bootstrap.out_flag()
_OVERWRITE = bootstrap.overwrite_flag()
_EXPORT = flags.DEFINE_string('export', None, 'import: the export directory.')
_MASK = flags.DEFINE_string('mask', None, 'import: the painted mask image.')
_PALETTE = flags.DEFINE_string(
    'palette', None, "import: palette JSON (default: the export's).")
_LATENTS = flags.DEFINE_string('latents', None,
                               'import_reference: latents.pt.')
_LABELS = flags.DEFINE_string('labels', None, 'import_reference: labels.pt.')
_NAME = flags.DEFINE_string('name', None, 'import_reference: dataset name.')
_ALLOWED = {
    'serve': {'config', 'workdir', 'host', 'port', 'examples'},
    'export': {'config', 'seed', 'out', 'overwrite'},
    'import': {'export', 'mask', 'out', 'palette', 'overwrite'},
    'import_reference': {'config', 'latents', 'labels', 'name', 'out'},
}
_REQUIRED = {'serve': ('config', 'workdir'),
             'export': ('config', 'seed', 'out'),
             'import': ('export', 'mask'),
             'import_reference': ('config', 'latents', 'labels', 'name',
                                  'out')}


def _check_flags(command: str) -> None:
  for name in sorted({n for names in _ALLOWED.values() for n in names}):
    if flags.FLAGS[name].present and name not in _ALLOWED[command]:
      raise errors.UsageError(f'--{name} does not apply to {command}')
  for name in _REQUIRED[command]:
    if flags.FLAGS[name].value is None:
      raise errors.UsageError(f'--{name} is required for {command}')


def _generator_settings():
  """(generator, its config name, psi, class names) from the config."""
  from stylegan_seg_jax.stages import config as config_lib  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value
  gen = config_lib.load_generator(config)
  return (gen, str(config.generator_dir), config_lib.sample_psi(config),
          tuple(config.data.class_names))


def _serve() -> None:
  from stylegan_seg_jax.labeller import server  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.labeller import session  # pylint: disable=g-import-not-at-top
  host, port = _HOST.value, _PORT.value
  if not 0 <= port <= 65535:
    raise errors.UsageError(f'--port must be in 0..65535, got {port}')
  try:
    sock = server.bind(host, port)
  except OSError as e:
    raise errors.UserError(f'cannot listen on {host}:{port}: {e.strerror or e}'
                        ) from None
  try:
    s = session.Session(_CONFIG.value, _WORKDIR.value,
                        examples=_EXAMPLES.value)
    port = sock.getsockname()[1]
    shown = f'[{host}]' if ':' in host else host
    hosts = ('127.0.0.1', 'localhost', '::1', '[::1]', host)
    if host in ('0.0.0.0', '::'):
      bootstrap.warn('label', f'listening on every interface ({host}): anyone '
                     'who can reach this machine can use the labeller')
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
  """Runs the action named by the positional argument."""
  command = argv[1]
  _check_flags(command)
  if command == 'serve':
    _serve()
    return
  from stylegan_seg_jax.data import labelling  # pylint: disable=g-import-not-at-top
  if command == 'export':
    gen, name, psi, names = _generator_settings()
    labelling.export(gen, _SEED.value, _OUT.value, psi=psi, class_names=names,
                     generator_name=name, overwrite=_OVERWRITE.value)
  elif command == 'import':
    export = bootstrap.given(_EXPORT)
    out = pathlib.Path(_OUT.value or export) / EXAMPLE_FILE
    labelling.import_mask(export, bootstrap.given(_MASK), out,
                          palette=_PALETTE.value, overwrite=_OVERWRITE.value)
  else:
    from stylegan_seg_jax.data import reference_data  # pylint: disable=g-import-not-at-top
    gen, name, psi, names = _generator_settings()
    config = _CONFIG.value
    if config.data.reference_psi is not None:
      psi = float(config.data.reference_psi)
    reference_data.import_reference(
        bootstrap.given(_LATENTS), bootstrap.given(_LABELS), gen, names,
        bootstrap.given(_OUT), bootstrap.given(_NAME),
        psi=psi, generator_name=name,
        label_size=config.data.reference_label_size)


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='label', argv=argv, usage=USAGE, commands=COMMANDS,
                expected=(ValueError, OSError),
                local_paths=('workdir', 'out', 'export', 'mask', 'palette',
                             'latents', 'labels', 'examples'))

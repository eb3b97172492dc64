"""A local Google Cloud Storage for tests: gcp-storage-emulator, in memory.

    python -m tests.launch.gcs_emulator --port=P --bucket=B

serves the bucket B at http://127.0.0.1:P until killed. Every client the
project uses finds it through the environment `emulator_env` returns:
gcsfs (epath, our own files) through STORAGE_EMULATOR_HOST, tensorstore
(orbax's array data) through TENSORSTORE_GCS_HTTP_URL, and ArrayRecord's
C++ reader (tfds data sources) through CLOUD_STORAGE_EMULATOR_ENDPOINT.

Three changes to the emulator, all about what it serves, not what it
stores:
* the object's generation in every download's `x-goog-generation` header
  (and `x-goog-metageneration`), as Cloud Storage sends it: tensorstore
  reads it to update a file conditionally (orbax's OCDBT manifest when a
  checkpoint is written in several steps) and fails with "Malformed
  StorageGeneration" without it;
* suffix byte ranges (`Range: bytes=-N`, the last N bytes; RFC 9110 section
  14.1.2), which ArrayRecord's reader uses to read a file's footer and the
  emulator would answer with the whole object;
* one thread per connection (requests still handled one at a time, under a
  lock): its single-threaded server serves one keep-alive connection until
  the client closes it, so the other processes of a pod stall, time out and
  retry.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import re
import subprocess
import sys
import threading
import time
import urllib.request

from tests.helpers import ROOT


def emulator_env(port: int) -> dict[str, str]:
  """The environment that points every storage client at the emulator."""
  url = f'http://127.0.0.1:{port}'
  return {'STORAGE_EMULATOR_HOST': url,
          'CLOUD_STORAGE_EMULATOR_ENDPOINT': url,
          'TENSORSTORE_GCS_HTTP_URL': url,
          'GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT': 'false',
          'GOOGLE_CLOUD_PROJECT': 'emulated'}


@contextlib.contextmanager
def running(port: int, bucket: str):
  """Runs the emulator with an empty `bucket`; yields `emulator_env`."""
  proc = subprocess.Popen(
      [sys.executable, '-m', 'tests.launch.gcs_emulator', f'--port={port}',
       f'--bucket={bucket}'], cwd=ROOT, stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL)
  try:
    deadline = time.monotonic() + 60
    while True:
      try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=2):
          break
      except OSError:
        if proc.poll() is not None or time.monotonic() > deadline:
          raise RuntimeError('the storage emulator did not start') from None
        time.sleep(0.2)
    yield emulator_env(port)
  finally:
    proc.terminate()
    proc.wait(timeout=30)


def _served_as_gcs(download):
  """`download` that also answers `Range: bytes=-N` and sends the object's
  generation headers."""

  def handler(request, response, storage, *args, **kwargs):
    header = request.get_header('range', None) or ''
    m = re.fullmatch(r'\s*bytes=-(\d+)\s*', header)
    if m:
      size = len(storage.get_file(request.params['bucket_name'],
                                  request.params['object_id']))
      start = max(0, size - int(m.group(1)))
      get = request.get_header
      request.get_header = lambda key, default=None: (
          f'bytes={start}-' if key.lower() == 'range' else get(key, default))
    result = download(request, response, storage, *args, **kwargs)
    if response.status in (200, 206):
      obj = storage.get_file_obj(request.params['bucket_name'],
                                 request.params['object_id'])
      response['x-goog-generation'] = str(obj['generation'])
      response['x-goog-metageneration'] = str(obj.get('metageneration', 1))
    return result

  return handler


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument('--port', type=int, required=True)
  parser.add_argument('--bucket', required=True)
  args = parser.parse_args()
  from gcp_storage_emulator import server  # pylint: disable=g-import-not-at-top
  from gcp_storage_emulator.handlers import objects  # pylint: disable=g-import-not-at-top
  patched = _served_as_gcs(objects.download)
  objects.download = patched  # objects.get calls it for ?alt=media
  server.HANDLERS = tuple(
      (pattern, {verb: patched if fn is objects.download else fn
                 for verb, fn in handlers.items()})
      for pattern, handlers in server.HANDLERS)
  lock = threading.Lock()

  def serial(method):
    def handle(self):
      with lock:
        return method(self)
    return handle

  for verb in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'):
    method = getattr(server.RequestHandler, f'do_{verb}', None)
    if method is not None:
      setattr(server.RequestHandler, f'do_{verb}', serial(method))

  def run_threaded(thread):
    thread._httpd = http.server.ThreadingHTTPServer(  # pylint: disable=protected-access
        (thread._host, thread._port),  # pylint: disable=protected-access
        functools.partial(server.RequestHandler, thread._storage))  # pylint: disable=protected-access
    thread._httpd.daemon_threads = True  # pylint: disable=protected-access
    thread.is_running.set()
    thread._httpd.serve_forever()  # pylint: disable=protected-access

  server.APIThread.run = run_threaded
  srv = server.create_server('127.0.0.1', args.port, in_memory=True,
                             default_bucket=args.bucket)
  srv.run()


if __name__ == '__main__':
  main()

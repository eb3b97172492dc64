"""The browser labeller's web app: a small JSON/PNG API over a `Session`.

    app = server.make_app(session.Session(config, workdir))
    server.serve(app, server.bind('127.0.0.1', 8765))

Starlette (ASGI) served by uvicorn. The page and its scripts are package
data (`labeller/static/`, plain HTML/CSS and JavaScript modules on a
canvas, no build step: `labeller.js` imports the others); painting happens
in the browser, which sends the finished mask (R*R class-id bytes) after
each stroke. The API:

  GET    /api/session                    the session as JSON
  GET    /api/examples/{i}/image.png     example i's generated sample
  GET    /api/examples/{i}/mask          its mask, R*R bytes
  PUT    /api/examples/{i}/mask          replace it (R*R bytes; autosaved)
  PUT    /api/examples/{i}/seed          {"seed": N}: another sample
  POST   /api/examples                   {"seed": N} or {}: add an example
  DELETE /api/examples/{i}               remove an example
  PUT    /api/current                    {"index": i}: the one shown
  GET    /api/random_seed                {"seed": N}: a random candidate
  POST   /api/train                      train on every example, then
                                         predict the grid (background job)
  POST   /api/regenerate                 new grid samples
  GET    /api/grid/{k}/image.png         grid sample k
  GET    /api/grid/{k}/mask.png          its predicted classes (RGBA)
  POST   /api/save                       write labels and head

Bad requests get a 4xx JSON `{"error": "..."}` and change nothing: 400 for
bad values, 404/405 for unknown routes, 409 when the session's state does
not allow it (training running, nothing trained), 413 for oversized bodies,
403 for a changing request without the `X-Labeller` header (a page of
another site cannot add it without a CORS preflight, which this server
never grants) and 400 for a Host header other than the served names (DNS
rebinding).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import pathlib
import socket
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
import uvicorn

from stylegan_seg_jax.labeller import session as session_lib
from stylegan_seg_jax.labeller.refusals import Conflict
from stylegan_seg_jax.labeller.refusals import RequestError
from stylegan_seg_jax.runtime import messages

__all__ = ['make_app', 'serve', 'bind', 'static_dir', 'CHANGE_HEADER',
           'MAX_JSON_BYTES']

# Header every changing request must carry (the page's script sends it).
CHANGE_HEADER = 'X-Labeller'
MAX_JSON_BYTES = 4096
_CHANGING = frozenset({'POST', 'PUT', 'DELETE', 'PATCH'})
_SECURITY_HEADERS = {
    'Content-Security-Policy': "default-src 'self'; img-src 'self' data: "
                               "blob:; style-src 'self'; script-src 'self'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
}
# The page's scripts are ES modules: the browser runs them only when served
# with a JavaScript MIME type.
_SCRIPT_TYPE = 'text/javascript; charset=utf-8'


def static_dir() -> pathlib.Path:
  """The page's files (package data)."""
  return pathlib.Path(str(importlib.resources.files(
      'stylegan_seg_jax.labeller') / 'static'))


class _PageFiles(StaticFiles):
  """The page's files (`static_dir`), its scripts as `text/javascript`.

  Whatever the system's MIME table says of `.js` (Python 3.11's own table
  says `application/javascript`, some systems' tables `text/plain`, which
  the browser refuses for a module script).
  """

  def file_response(self, full_path: str | os.PathLike[str],
                    stat_result: os.stat_result, scope: Scope,
                    status_code: int = 200) -> Response:
    """The file's response; a script's with the JavaScript MIME type."""
    response = super().file_response(full_path, stat_result, scope,
                                     status_code)
    if isinstance(response, FileResponse) and (
        os.fspath(full_path).endswith('.js')):
      response.headers['content-type'] = _SCRIPT_TYPE
    return response


def _error(status: int, message: str) -> JSONResponse:
  return JSONResponse({'error': messages.one_line(message)}, status)


class _Guard:
  """ASGI middleware: the change header and the security headers.

  It refuses changing requests without CHANGE_HEADER and adds the security
  headers to every response.
  """

  def __init__(self, app: Any):
    self.app = app

  async def __call__(self, scope, receive, send):
    if scope['type'] != 'http':
      await self.app(scope, receive, send)
      return
    names = {k.lower() for k, _ in scope.get('headers', ())}
    if scope['method'] in _CHANGING and (
        CHANGE_HEADER.lower().encode() not in names):
      response = _error(403, f'changing requests need the {CHANGE_HEADER} '
                        'header')
      await response(scope, receive, send)
      return

    async def send_with_headers(message):
      if message['type'] == 'http.response.start':
        headers = list(message.get('headers', []))
        present = {k.lower() for k, _ in headers}
        for k, v in _SECURITY_HEADERS.items():
          if k.lower().encode() not in present:
            headers.append((k.lower().encode(), v.encode()))
        message = {**message, 'headers': headers}
      await send(message)
    await self.app(scope, receive, send_with_headers)


async def _body(request: Request, limit: int) -> bytes:
  """The request body, refused (413) past `limit` bytes.

  No more than limit + one chunk is read.
  """
  declared = request.headers.get('content-length')
  if declared is not None:
    if not declared.isdigit():
      raise HTTPException(400, 'bad Content-Length')
    if int(declared) > limit:
      raise HTTPException(413, f'body of {declared} bytes; at most {limit}')
  chunks, size = [], 0
  async for chunk in request.stream():
    size += len(chunk)
    if size > limit:
      raise HTTPException(413, f'body over {limit} bytes')
    chunks.append(chunk)
  return b''.join(chunks)


async def _json(request: Request, allowed: dict[str, bool]) -> dict[str, Any]:
  """A JSON object body whose keys are in `allowed` ({key: required})."""
  raw = await _body(request, MAX_JSON_BYTES)
  try:
    value = json.loads(raw or b'{}')
  except (ValueError, UnicodeDecodeError):
    raise RequestError('malformed JSON body') from None
  if not isinstance(value, dict):
    raise RequestError('the body must be a JSON object')
  unknown = sorted(set(value) - set(allowed))
  if unknown:
    raise RequestError(
        f'unknown field(s) {messages.quote(unknown)}; expected '
        f'{sorted(allowed)}')
  missing = [k for k, req in allowed.items() if req and k not in value]
  if missing:
    raise RequestError(f'missing field(s) {missing}')
  return value


def _png(data: bytes) -> Response:
  return Response(data, media_type='image/png')


def make_app(session: session_lib.Session, *,
             allowed_hosts: tuple[str, ...] = ('127.0.0.1', 'localhost'),
             ) -> Starlette:
  """The labeller app for a session.

  Args:
    session: the labelling session.
    allowed_hosts: Host header values served (the bound address and
      'localhost'); others get 400.

  Returns:
    The ASGI app.
  """
  s = session

  async def call(fn, *args):
    return await run_in_threadpool(fn, *args)

  async def index(request: Request) -> Response:
    del request
    return FileResponse(static_dir() / 'index.html')

  async def describe(request: Request) -> Response:
    del request
    return JSONResponse(await call(s.describe))

  async def image(request: Request) -> Response:
    return _png(await call(s.image, request.path_params['index']))

  async def get_mask(request: Request) -> Response:
    data = await call(s.mask, request.path_params['index'])
    return Response(data, media_type='application/octet-stream')

  async def put_mask(request: Request) -> Response:
    limit = s.resolution * s.resolution
    body = await _body(request, limit)
    await call(s.set_mask, request.path_params['index'], body)
    return JSONResponse({'ok': True})

  async def put_seed(request: Request) -> Response:
    value = await _json(request, {'seed': True})
    await call(s.set_seed, request.path_params['index'], value['seed'])
    return JSONResponse(await call(s.describe))

  async def add_example(request: Request) -> Response:
    value = await _json(request, {'seed': False})
    await call(s.add_example, value.get('seed'))
    return JSONResponse(await call(s.describe))

  async def remove_example(request: Request) -> Response:
    await call(s.remove_example, request.path_params['index'])
    return JSONResponse(await call(s.describe))

  async def put_current(request: Request) -> Response:
    value = await _json(request, {'index': True})
    index = value['index']
    if isinstance(index, bool) or not isinstance(index, int):
      raise RequestError(
          f'index must be an integer, got {messages.quote(index)}')
    await call(s.set_current, index)
    return JSONResponse(await call(s.describe))

  async def random_seed(request: Request) -> Response:
    del request
    return JSONResponse({'seed': await call(s.random_seed)})

  async def train(request: Request) -> Response:
    await _json(request, {})
    version = await call(s.start_training)
    return JSONResponse({'version': version}, 202)

  async def regenerate(request: Request) -> Response:
    await _json(request, {})
    version = await call(s.regenerate)
    return JSONResponse({'version': version}, 202)

  async def grid(request: Request) -> Response:
    return _png(await call(s.grid_picture, request.path_params['index'],
                           request.path_params['kind']))

  async def save(request: Request) -> Response:
    await _json(request, {})
    return JSONResponse(await call(s.save))

  async def bad_request(request: Request, exc: Exception) -> Response:
    del request
    return _error(400, str(exc))

  async def conflict(request: Request, exc: Exception) -> Response:
    del request
    return _error(409, str(exc))

  async def http_error(request: Request, exc: Exception) -> Response:
    del request
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail))

  async def server_error(request: Request, exc: Exception) -> Response:
    del request
    print(f'labeller: error: {messages.one_line(exc)}', file=sys.stderr,
          flush=True)
    return _error(500, f'server error: {exc}')

  routes = [
      Route('/', index),
      Route('/api/session', describe),
      Route('/api/examples/{index:int}/image.png', image),
      Route('/api/examples/{index:int}/mask', get_mask, methods=['GET']),
      Route('/api/examples/{index:int}/mask', put_mask, methods=['PUT']),
      Route('/api/examples/{index:int}/seed', put_seed, methods=['PUT']),
      Route('/api/examples', add_example, methods=['POST']),
      Route('/api/examples/{index:int}', remove_example, methods=['DELETE']),
      Route('/api/current', put_current, methods=['PUT']),
      Route('/api/random_seed', random_seed),
      Route('/api/train', train, methods=['POST']),
      Route('/api/regenerate', regenerate, methods=['POST']),
      Route('/api/grid/{index:int}/{kind:str}.png', grid),
      Route('/api/save', save, methods=['POST']),
      Mount('/static', _PageFiles(directory=static_dir()), name='static'),
  ]
  return Starlette(
      routes=routes,
      middleware=[Middleware(TrustedHostMiddleware,
                             allowed_hosts=list(allowed_hosts)),
                  Middleware(_Guard)],
      exception_handlers={RequestError: bad_request,
                          Conflict: conflict,
                          HTTPException: http_error,
                          Exception: server_error})


def bind(host: str, port: int) -> socket.socket:
  """A listening TCP socket on host:port (port 0: a free one).

  Raises:
    OSError: the address cannot be bound (in use, not local, ...).
  """
  family = socket.AF_INET6 if ':' in host else socket.AF_INET
  sock = socket.socket(family, socket.SOCK_STREAM)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    sock.bind((host, port))
  except OSError:
    sock.close()
    raise
  sock.listen(64)
  return sock


def serve(app: Starlette, sock: socket.socket) -> None:
  """Serves `app` on a bound socket until interrupted.

  Ctrl-C or SIGTERM stop it gracefully, then it returns normally.
  """
  config = uvicorn.Config(app, log_level='warning', access_log=False,
                          lifespan='off', timeout_graceful_shutdown=2)
  try:
    uvicorn.Server(config).run(sockets=[sock])
  except KeyboardInterrupt:  # uvicorn re-raises the signal it stopped on
    pass

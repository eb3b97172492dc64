"""The labeller's HTTP API through Starlette's test client: every endpoint,
and every kind of bad request answered 4xx with nothing changed."""

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from starlette.testclient import TestClient

from stylegan_seg_jax.labeller import server
from stylegan_seg_jax.labeller import session as session_lib
from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.labeller.conftest import STEPS
from tests.labeller.conftest import labeller_config

H = {server.CHANGE_HEADER: '1'}


@pytest.fixture
def client(swav_workdir):
  s = session_lib.Session(labeller_config(), str(swav_workdir))
  app = server.make_app(s, allowed_hosts=('testserver',))
  with TestClient(app) as c:
    c.session = s
    _wait(c)
    yield c
  s.close()


def _wait(c, timeout=120):
  end = time.monotonic() + timeout
  while time.monotonic() < end:
    job = c.get('/api/session').json()['job']
    if job['state'] not in ('training', 'predicting'):
      return job
    time.sleep(0.05)
  raise AssertionError('job still running')


@pytest.mark.fast
def test_every_endpoint(client):
  c = client
  d = c.get('/api/session').json()
  res = d['resolution']
  assert d['method'] == 'ours' and len(d['class_names']) == 8
  assert len(d['colours']) == 8 and d['colours'][0] == [0, 0, 0]
  page = c.get('/')
  assert page.status_code == 200 and 'labeller.js' in page.text
  assert "default-src 'self'" in page.headers['content-security-policy']
  assert '<script type="module" src="/static/labeller.js">' in page.text
  for name in ('labeller.js', 'labeller.css', 'index.html'):
    assert c.get(f'/static/{name}').status_code == 200
  # Every script is an ES module: the browser runs it only when served
  # with a JavaScript MIME type.
  scripts = sorted(p.name for p in server.static_dir().glob('*.js'))
  assert len(scripts) > 1 and 'labeller.js' in scripts
  for name in scripts:
    r = c.get(f'/static/{name}')
    assert r.status_code == 200, name
    assert r.headers['content-type'].startswith('text/javascript'), (
        name, r.headers['content-type'])
  img = c.get('/api/examples/0/image.png')
  assert img.headers['content-type'] == 'image/png'
  assert img.content[:4] == b'\x89PNG'
  mask = np.zeros((res, res), np.uint8)
  mask[10:20, 5:30] = 3
  r = c.put('/api/examples/0/mask', content=mask.tobytes(), headers=H)
  assert r.status_code == 200
  got = c.get('/api/examples/0/mask')
  assert got.content == mask.tobytes()
  assert c.get('/api/session').json()['examples'][0]['labelled'] == 250
  seed = c.get('/api/random_seed').json()['seed']
  assert 0 <= seed < 2**31
  d = c.put('/api/examples/0/seed', json={'seed': 42}, headers=H).json()
  assert d['examples'][0] == {'seed': 42, 'labelled': 0}
  d = c.post('/api/examples', json={'seed': 43}, headers=H).json()
  assert [e['seed'] for e in d['examples']] == [42, 43] and d['current'] == 1
  d = c.post('/api/examples', json={}, headers=H).json()
  assert len(d['examples']) == 3
  d = c.delete('/api/examples/2', headers=H).json()
  assert len(d['examples']) == 2
  d = c.put('/api/current', json={'index': 0}, headers=H).json()
  assert d['current'] == 0
  c.put('/api/examples/0/mask', content=mask.tobytes(), headers=H)
  r = c.post('/api/train', json={}, headers=H)
  assert r.status_code == 202
  job = _wait(c)
  assert job['state'] == 'done' and job['step'] == STEPS
  g = c.get('/api/session').json()['grid']
  assert g['predicted'] and len(g['seeds']) == 8
  for k in range(8):
    for kind in ('image', 'mask'):
      assert c.get(f'/api/grid/{k}/{kind}.png').content[:4] == b'\x89PNG'
  assert c.post('/api/regenerate', json={}, headers=H).status_code == 202
  _wait(c)
  assert c.get('/api/session').json()['grid']['seeds'] != g['seeds']
  out = c.post('/api/save', json={}, headers=H).json()
  assert out['labels'].endswith('labels') and out['kept'] == ''
  assert (c.session.workdir / 'labels' / 'example_1.npz').is_file()


@pytest.mark.fast
def test_bad_requests_get_4xx_and_change_nothing(client):
  c = client
  res = c.get('/api/session').json()['resolution']
  mask = np.zeros((res, res), np.uint8)
  mask[:8] = 2
  c.put('/api/examples/0/mask', content=mask.tobytes(), headers=H)
  draft = c.session.draft_path.read_bytes()
  before = c.get('/api/session').json()
  n = res * res
  cases = [
      # (method, url, kwargs, status, text in the error)
      ('put', '/api/examples/0/mask', {'content': b'\0' * (n - 1)}, 400,
       f'{n} bytes'),
      ('put', '/api/examples/0/mask', {'content': b'\0' * (n + 1)}, 413,
       'at most'),
      ('put', '/api/examples/0/mask', {'content': b'\x09' * n}, 400,
       'class id 9'),
      ('put', '/api/examples/0/mask', {'content': b'\xff' * n}, 400,
       'class id 255'),
      ('put', '/api/examples/5/mask', {'content': b'\0' * n}, 400,
       'no example 5'),
      ('put', '/api/examples/-1/mask', {'content': b'\0' * n}, 404, ''),
      ('put', '/api/examples/x/mask', {'content': b'\0' * n}, 404, ''),
      ('put', '/api/examples/0/seed', {'content': b'{"seed": '}, 400,
       'malformed JSON'),
      ('put', '/api/examples/0/seed', {'content': b'[1]'}, 400,
       'JSON object'),
      ('put', '/api/examples/0/seed', {'json': {}}, 400, 'missing'),
      ('put', '/api/examples/0/seed', {'json': {'seed': -3}}, 400,
       'seed must be'),
      ('put', '/api/examples/0/seed', {'json': {'seed': 'a\nb'}}, 400,
       'seed must be'),
      ('put', '/api/examples/0/seed', {'json': {'seed': 1, 'x': 2}}, 400,
       'unknown field'),
      ('put', '/api/examples/0/seed', {'content': b'{"seed": 1e999}'}, 400,
       'seed must be'),
      ('post', '/api/examples', {'content': b'x' * 5000}, 413, 'at most'),
      ('put', '/api/current', {'json': {'index': 7}}, 400, 'no example 7'),
      ('put', '/api/current', {'json': {'index': '0'}}, 400, 'integer'),
      ('delete', '/api/examples/0', {}, 409, 'last example'),
      ('post', '/api/save', {'json': {}}, 409, 'Train first'),
      ('get', '/api/grid/0/mask.png', {}, 400, 'no grid mask'),
      ('get', '/api/grid/0/secret.png', {}, 400, 'no grid secret'),
      ('get', '/api/grid/99/image.png', {}, 400, 'no grid image'),
      ('get', '/api/nothing', {}, 404, ''),
      ('post', '/api/session', {}, 405, ''),
  ]
  for method, url, kwargs, status, text in cases:
    r = getattr(c, method)(url, headers=H, **kwargs)
    assert r.status_code == status, (method, url, r.status_code, r.text)
    assert '\n' not in r.json()['error']
    assert text in r.json()['error'], (url, r.json())
  # Changing requests without the header; a foreign Host header.
  r = c.put('/api/examples/0/mask', content=b'\0' * n)
  assert r.status_code == 403 and server.CHANGE_HEADER in r.json()['error']
  assert c.post('/api/train', json={}).status_code == 403
  assert c.get('/api/session', headers={'host': 'evil.example'}
               ).status_code == 400
  assert c.session.draft_path.read_bytes() == draft
  assert c.get('/api/session').json()['examples'] == before['examples']
  assert c.get('/api/examples/0/mask').content == mask.tobytes()
  assert not (c.session.workdir / 'labels').exists()


@pytest.mark.fast
def test_only_its_own_files_are_served(client):
  c = client
  for url in ('/static/../session.py', '/static/%2e%2e/session.py',
              '/static/..%2fsession.py', '/static/%2e%2e%2f__init__.py',
              '/static//etc/passwd', '/static/%2fetc%2fpasswd',
              '/static/....//session.py', '/../labeller/session.py',
              '/static/static/../../session.py'):
    r = c.get(url)
    assert r.status_code == 404, url
    assert b'import' not in r.content and b'root:' not in r.content, url


@pytest.mark.fast
def test_the_training_conflict_and_the_job_error_reach_the_page(client):
  c = client
  gate = threading.Event()
  c.session.submit(gate.wait)  # holds the worker: the job stays queued
  assert c.post('/api/train', json={}, headers=H).status_code == 202
  for url in ('/api/train', '/api/regenerate', '/api/save'):
    second = c.post(url, json={}, headers=H)
    assert second.status_code == 409, url
    assert 'running' in second.json()['error']
  gate.set()
  assert _wait(c)['state'] == 'done'

  def boom():
    raise FloatingPointError('non-finite loss\n\x1b[31mfake line')
  c.session._worker._train = lambda examples: boom()  # pylint: disable=protected-access
  c.post('/api/train', json={}, headers=H)
  job = _wait(c)
  assert job['state'] == 'error'
  assert 'non-finite loss' in job['message'] and '\n' not in job['message']
  assert '\x1b' not in job['message']


@pytest.mark.slow
def test_serve_refuses_a_workdir_without_swav_in_one_line(tmp_path):
  cmd = [sys.executable, '-m', 'stylegan_seg_jax', 'label', 'serve',
         f'--config={ROOT}/configs/tiny.py', f'--workdir={tmp_path}',
         '--port=0']
  r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                     env=subprocess_env(), cwd=ROOT)
  assert r.returncode == 1, r.stderr
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('label: error:')
  assert 'trained SwAV stage' in lines[0]
  r = subprocess.run(cmd[:-1] + ['--port=70000'], capture_output=True,
                     text=True, timeout=60, env=subprocess_env(), cwd=ROOT)
  assert r.returncode == 2 and '--port' in r.stderr
  json.dumps(r.stderr)  # printable

"""Test setup: 8 forced host devices (set before jax is imported)."""

import os
import sys

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

# Tests import the package from the repository root and their helpers from
# this directory.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.dirname(os.path.abspath(__file__))):
  if path not in sys.path:
    sys.path.insert(0, path)


def pytest_configure(config):
  # ott-jax imports jaxopt, which warns that it is unmaintained.
  config.addinivalue_line(
      'filterwarnings',
      'ignore:JAXopt is no longer maintained:DeprecationWarning')

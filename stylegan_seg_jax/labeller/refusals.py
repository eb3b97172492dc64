"""The requests a labelling session refuses, by the HTTP status they get.

The session raises them before changing anything; the web app
(`labeller.server`) answers them as 4xx JSON errors.
"""

from __future__ import annotations

__all__ = ['RequestError', 'Conflict']


class RequestError(ValueError):
  """A request the session refuses (bad value): HTTP 400, nothing changed."""


class Conflict(RuntimeError):
  """A request that does not fit the session's state now: HTTP 409."""

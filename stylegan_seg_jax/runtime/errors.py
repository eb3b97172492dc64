"""The errors a run reports to its user in one line, and those that are bugs.

Library code raises these; the command-line bootstrap (`runtime.cli`) turns
them into `NAME: error: <one line>` and an exit status. Keeping them here,
below every other module, lets any layer raise them without importing the
command line.
"""

from __future__ import annotations

__all__ = ['UserError', 'UsageError']


class UserError(Exception):
  """Bad input from the user (config, files, values): one line, exit 1."""


class UsageError(Exception):
  """The command line itself is wrong (missing or misplaced arguments)."""

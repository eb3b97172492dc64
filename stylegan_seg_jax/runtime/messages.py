"""Error and log text that is safe to print: one line, bounded, escaped.

Values that come from files (checkpoint contents, class names, keys) are
untrusted: they can be huge, deeply nested, shared many times over, or hold
newlines and terminal escape sequences. `quote` turns any value into a short
`repr`-style string without walking more than a bounded part of it, and
`one_line` makes a whole message a single printable line.
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ['MAX_MESSAGE', 'MAX_QUOTE', 'one_line', 'quote']

MAX_MESSAGE = 600  # characters of an error line
MAX_QUOTE = 80  # characters of one quoted value


class _BoundedRepr(reprlib.Repr):
  """`reprlib` with small limits; arrays shown by shape and dtype only."""

  def __init__(self):
    super().__init__()
    self.maxlevel = 3
    self.maxtuple = self.maxlist = self.maxdict = self.maxset = 4
    self.maxfrozenset = self.maxdeque = self.maxarray = 4
    self.maxstring = self.maxother = MAX_QUOTE
    self.maxlong = 40

  def repr1(self, x: Any, level: int) -> str:
    shape = getattr(type(x), 'shape', None)
    if shape is not None and hasattr(x, 'dtype'):  # numpy / jax arrays
      try:
        return f'<array shape={tuple(x.shape)} dtype={x.dtype}>'
      except Exception:  # pylint: disable=broad-except
        return f'<{type(x).__name__}>'
    return super().repr1(x, level)

  def repr_int(self, x: int, level: int) -> str:
    del level
    if x.bit_length() > 128:
      return f'<int of {x.bit_length()} bits>'
    return repr(x)

  def repr_instance(self, x: Any, level: int) -> str:
    del level
    if type(x) in (bool, float, complex, type(None)):
      return repr(x)
    if type(x) in (bytes, bytearray):
      cut = x[:self.maxstring]
      return repr(bytes(cut)) + ('...' if len(x) > len(cut) else '')
    # Never call a foreign __repr__: it could be slow or large.
    return f'<{type(x).__name__}>'


_REPR = _BoundedRepr()


def quote(value: Any, limit: int = MAX_QUOTE) -> str:
  r"""A bounded, escaped `repr` of an untrusted value.

  Containers are shown to a depth of 3 and 4 items per level, strings and
  numbers are cut, arrays show their shape and dtype, other objects their
  type; the result has no control characters and at most `limit` characters.

  Args:
    value: anything.
    limit: maximum length of the result.

  Returns:
    The quoted value, e.g. `'abc\n'` or `[1, 2, 3, 4, ...]`.
  """
  try:
    text = _REPR.repr(value)
  except Exception:  # pylint: disable=broad-except
    text = f'<{type(value).__name__}>'  # e.g. an int too long to print
  text = _escape(text)
  return text if len(text) <= limit else text[:limit - 3] + '...'


def _escape(text: str) -> str:
  """Replaces every non-printable character with its escape sequence."""
  if text.isprintable():
    return text
  return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line(error: BaseException | str, limit: int = MAX_MESSAGE) -> str:
  """The message on one line, cut to `limit` characters.

  Whitespace runs (newlines included) become one space and every other
  non-printable character (terminal escapes) is shown escaped, so that a
  message cannot forge extra lines or colours on the user's terminal.

  Args:
    error: an exception (its `str`, or its type name when that is empty) or
      a message.
    limit: maximum length.

  Returns:
    The line.
  """
  text = error if isinstance(error, str) else (
      str(error) or type(error).__name__)
  if len(text) > 16 * limit:
    text = text[:16 * limit]
  text = _escape(' '.join(text.split()))
  return text if len(text) <= limit else text[:limit - 3] + '...'

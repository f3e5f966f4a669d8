"""User mistakes versus bugs: one error type for what the user can fix, one line on the terminal for it.

A `UserError` (bad config value, missing file, unreadable data, a full disk, a workdir in use) is printed
by every entry point as `crackjax: <message>` on stderr, with exit status 2 and no traceback; anything
else is a bug in crackjax or a library and keeps its traceback. Raise `UserError` where the message alone
tells the user what is wrong and what to do, naming the file, key or value.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Callable, Iterator
from typing import Any

USER_ERROR_EXIT_CODE = 2


class UserError(Exception):
  """A mistake the user can fix; the message names the file, key or value and what to do."""


class DiskFullError(UserError):
  """A write failed because its file system is full (or over quota); the message names the path."""


@contextlib.contextmanager
def writing(path: str) -> Iterator[None]:
  """Turns a failed write of `path` for lack of space into a `DiskFullError` naming it.

  Other OS errors pass through unchanged. Use around every write crackjax makes (metrics, TensorBoard,
  checkpoints, plots, JSON results) so a full disk fails at once with the path instead of later, or never.
  """
  try:
    yield
  except OSError as e:
    if is_disk_full(e):
      raise DiskFullError(f"no space left on the device while writing {path} ({e.strerror}); free space "
                          "and run the same command again (a training run resumes from its last "
                          "finished checkpoint)") from e
    raise


def is_disk_full(error: BaseException) -> bool:
  """Whether `error` (or an error it was raised from) is ENOSPC / EDQUOT."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
      return True
    if isinstance(error, OSError) and "no space left" in str(error).lower():
      return True
    error = error.__cause__ or error.__context__
  return False


def run_main(main: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
  """Wraps an absl `main(argv)`: a `UserError` (or a full disk) becomes one line on stderr and exit 2."""

  def wrapped(argv):
    try:
      return main(argv)
    except UserError as e:
      print(f"crackjax: {e}", file=sys.stderr, flush=True)
      sys.exit(USER_ERROR_EXIT_CODE)
    except OSError as e:
      if not is_disk_full(e):
        raise
      print(f"crackjax: no space left on the device ({e}); free space and run the same command again",
            file=sys.stderr, flush=True)
      sys.exit(USER_ERROR_EXIT_CODE)

  wrapped.__name__ = getattr(main, "__name__", "main")
  wrapped.__doc__ = main.__doc__
  return wrapped

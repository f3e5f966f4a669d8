"""User mistakes versus bugs: one error type for what the user can fix, one line on the terminal for it.

A `UserError` (bad config value, missing file, unreadable data, a full disk, a workdir in use) is printed
by every entry point as `crackjax: <message>` on stderr, with exit status 2 and no traceback; anything
else is a bug in crackjax or a library and keeps its traceback. Raise `UserError` where the message alone
tells the user what is wrong and what to do, naming the file, key or value.

`UserError` subclasses `ValueError` (and `MissingFileError` also `FileNotFoundError`), so code and tests
that catch the built-in types keep working.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

USER_ERROR_EXIT_CODE = 2
STOPPED_EXIT_CODE = 128 + 15   # as if SIGTERM had ended the process (shells and schedulers read it so)
INTERRUPTED_EXIT_CODE = 128 + 2   # as if SIGINT (Ctrl-C) had ended it

# How a full disk reads where a library (tensorstore, under orbax) reports it as text, not as errno.
_DISK_FULL_TEXT = ("no space left on device", "disk quota exceeded", "os_error_code='28'",
                   "os_error_code='122'")


class UserError(ValueError):
  """A mistake the user can fix; the message names the file, key or value and what to do."""


class MissingFileError(UserError, FileNotFoundError):
  """A file or folder the user named (or a command needs) does not exist."""


class DiskFullError(UserError):
  """A write failed because its file system is full (or over quota); the message names the path."""


class SkippedInputsError(UserError):
  """Some inputs (image files, image/mask pairs) were bad and skipped; the good ones were processed.

  `result` holds what the command produced from the good ones (its return value had it succeeded).
  """

  def __init__(self, message: str, result: Any = None):
    super().__init__(message)
    self.result = result


class Stopped(Exception):
  """Training stopped on request (SIGTERM, a preemption, or Ctrl-C) after saving a checkpoint; not a
  failure of the run: the same command resumes it. Entry points print the message and exit with
  `exit_code`: 143 after SIGTERM, 130 after Ctrl-C, as if the signal had ended the process."""

  def __init__(self, message: str, exit_code: int = STOPPED_EXIT_CODE):
    super().__init__(message)
    self.exit_code = exit_code


def disk_full(path: str, error: BaseException) -> DiskFullError:
  """The `DiskFullError` for a failed write of `path` (`error`: what the write raised)."""
  detail = getattr(error, "strerror", None) or "No space left on device"
  return DiskFullError(f"no space left on the device while writing {path} ({detail}); free space and "
                       "run the same command again (a training run resumes from its last finished "
                       "checkpoint)")


@contextlib.contextmanager
def writing(path: str) -> Iterator[None]:
  """Turns a failed write of `path` for lack of space into a `DiskFullError` naming it.

  Other errors pass through unchanged. Use around every write crackjax makes (metrics, TensorBoard,
  checkpoints, plots, JSON results) so a full disk fails at once with the path instead of later, or never.
  Libraries that report a full disk as another exception type (tensorstore under orbax raises
  `ValueError("RESOURCE_EXHAUSTED: ... No space left on device")`) are recognised by `is_disk_full`.
  """
  try:
    yield
  except DiskFullError:
    raise
  except Exception as e:  # noqa: BLE001  (only a full disk is converted; everything else re-raised)
    if is_disk_full(e):
      raise disk_full(path, e) from e
    raise


def is_disk_full(error: BaseException) -> bool:
  """Whether `error` (or an error it was raised from) is ENOSPC / EDQUOT, as errno or as text."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
      return True
    if any(text in str(error).lower() for text in _DISK_FULL_TEXT):
      return True
    error = error.__cause__ or error.__context__
  return False


def run_main(main: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
  """Wraps an absl `main(argv)`: a `UserError` (or a full disk) becomes one line on stderr and exit 2;
  `Stopped` (a SIGTERM or Ctrl-C honoured at a step boundary) one line and exit 143 or 130; a Ctrl-C
  anywhere else (`KeyboardInterrupt`: a second Ctrl-C, data preparation, evaluation) one line and 130."""

  def wrapped(argv):
    sys.excepthook = _without_closed_loop_noise(sys.excepthook)
    sys.unraisablehook = _unraisable_without_closed_loop_noise(sys.unraisablehook)
    try:
      return main(argv)
    except Stopped as e:
      print(f"crackjax: {e}", file=sys.stderr, flush=True)
      sys.exit(e.exit_code)
    except KeyboardInterrupt:
      print("crackjax: interrupted (Ctrl-C); a training run resumes from its last checkpoint with the "
            "same command", file=sys.stderr, flush=True)
      sys.exit(INTERRUPTED_EXIT_CODE)
    except UserError as e:
      if is_disk_full(e):
        _quiet_shutdown()
      exit_with(str(e))
    except Exception as e:  # noqa: BLE001  (a full disk reported by a library; anything else re-raised)
      if not is_disk_full(e):
        raise
      _quiet_shutdown()
      exit_with(f"no space left on the device ({_first_line(e)}); free space and run the same command "
                "again")

  wrapped.__name__ = getattr(main, "__name__", "main")
  wrapped.__doc__ = main.__doc__
  return wrapped


def exit_with(message: str) -> None:
  """Prints `crackjax: <message>` on stderr and exits with status 2 (a user error)."""
  print(f"crackjax: {message}", file=sys.stderr, flush=True)
  sys.exit(USER_ERROR_EXIT_CODE)


def _is_closed_loop_noise(value: BaseException | None) -> bool:
  """When an orbax save fails (a full disk), tensorstore's threads still call back into the save's
  closed asyncio loop, and each callback fails with `RuntimeError: Event loop is closed`. Only that
  error, raised outside the main thread, is noise."""
  return (threading.current_thread() is not threading.main_thread() and isinstance(value, RuntimeError)
          and str(value) == "Event loop is closed")


def _without_closed_loop_noise(hook):
  """`hook` (sys.excepthook) minus the closed-loop noise of `_is_closed_loop_noise`."""

  def excepthook(type_, value, tb):
    if not _is_closed_loop_noise(value):
      hook(type_, value, tb)
  return excepthook


def _unraisable_without_closed_loop_noise(hook):
  """`hook` (sys.unraisablehook, which prints the errors tensorstore's native callbacks raise) minus
  the closed-loop noise of `_is_closed_loop_noise`; every other unraisable error is still printed."""

  def unraisablehook(unraisable):
    if not _is_closed_loop_noise(unraisable.exc_value):
      hook(unraisable)
  return unraisablehook


def _quiet_shutdown() -> None:
  """After a full disk, background writers (orbax's threads and asyncio tasks) still fail as the
  interpreter exits; their errors would follow the one-line message as tracebacks. They are dropped."""
  sys.unraisablehook = lambda unraisable: None
  threading.excepthook = lambda args: None


def _first_line(error: BaseException) -> str:
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__

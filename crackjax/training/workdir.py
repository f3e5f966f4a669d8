"""The training workdir, claimed before anything is written into it: one trainer per workdir.

`claim(workdir)` checks that `--workdir` is (or can be made) a folder, then takes an exclusive `flock`
on `workdir/.lock` and holds it until the run ends; the file says who holds it (pid, host, start time,
command). A second trainer on the same workdir fails at once, naming the running one, before it writes
anything. The kernel drops a `flock` when its process dies, by any signal, SIGKILL included, so the
file a killed run leaves behind never blocks the rerun that resumes it: only its contents are stale.

Only process 0 of a multi-host run takes the lock (the workdir is shared, crackjax/training/parallel.py
`check_shared_directory`); the other processes follow it. Where the file system has no locks (some
network file systems), the run proceeds with a warning.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator

from absl import logging

from crackjax import errors

LOCK_FILE = ".lock"


class WorkdirInUseError(errors.UserError):
  """Another trainer holds the workdir's lock."""


def prepare(workdir: str) -> None:
  """Creates `workdir` if needed; a UserError naming the path if it is a file or cannot be made."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise errors.UserError(f"--workdir {workdir} is a file, not a folder; pass a folder (it is created "
                           f"if it does not exist).")
  try:
    with errors.writing(workdir):
      os.makedirs(workdir, exist_ok=True)
  except errors.DiskFullError:
    raise
  except OSError as e:
    raise errors.UserError(f"cannot create --workdir {workdir}: {e.strerror}.") from e


@contextlib.contextmanager
def claim(workdir: str, lock: bool = True) -> Iterator[None]:
  """Prepares `workdir` and, with `lock` (process 0), holds its lock for the duration of the block.

  Raises WorkdirInUseError (naming the workdir and the running trainer) if another process holds it.
  """
  prepare(workdir)
  if not lock:
    yield
    return
  path = os.path.join(workdir, LOCK_FILE)
  with errors.writing(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise WorkdirInUseError(
          f"--workdir {workdir} is in use by another crackjax trainer ({_holder(fd)}); wait for it to "
          f"finish or stop it, or pass another --workdir.") from None
    except OSError as e:
      if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
        raise
      logging.warning("No lock on %s (%s): this file system has no locks, so nothing stops a second "
                      "trainer on the same workdir.", path, e.strerror)
    else:
      with errors.writing(path):
        _describe_self(fd)
    yield
  finally:
    os.close(fd)     # releases the lock


def _describe_self(fd: int) -> None:
  info = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
          "command": " ".join(sys.argv)}
  data = (json.dumps(info) + "\n").encode()
  os.ftruncate(fd, 0)
  os.pwrite(fd, data, 0)


def _holder(fd: int) -> str:
  """Who holds the lock, as its file says."""
  try:
    info = json.loads(os.pread(fd, 65536, 0).decode() or "{}")
  except (OSError, ValueError):
    info = {}
  if not info:
    return "no details recorded yet"
  return (f"pid {info.get('pid')} on host {info.get('host')}, started {info.get('started')}: "
          f"{info.get('command', '')}").rstrip(": ")

r"""Runs a crackjax entry point with a full disk simulated for the files whose path contains TARGET.

    python tests/fault_injection.py TARGET SKIP -m crackjax.main --config ... --workdir ...

The first SKIP writes to such files succeed; every later one fails with OSError(ENOSPC), as on a disk
that fills up while the run goes on. Writes are intercepted where Python code makes them: `open()` of
a file for writing, `os.write` (crackjax's metrics.jsonl) and tensorboardX's record writer. (Native
writers such as tensorstore under orbax are not intercepted: tests/test_faults.py fills a real small
file system for those where the sandbox allows mounting one.)
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import runpy
import sys

_state = {"target": "", "skip": 0, "writes": 0}


def _hit(path) -> bool:
  """Whether a write to `path` is a target write, counted; True once the disk is 'full'."""
  if _state["target"] not in os.fspath(path):
    return False
  _state["writes"] += 1
  return _state["writes"] > _state["skip"]


def _enospc(path):
  return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))


class _FullFile(io.RawIOBase):
  """A file object whose writes fail once the simulated disk is full."""

  def __init__(self, path, f):
    super().__init__()
    self._path, self._f = path, f

  def write(self, data):
    if _hit(self._path):
      raise _enospc(self._path)
    return self._f.write(data)

  def flush(self):
    self._f.flush()

  def fileno(self):
    return self._f.fileno()

  def close(self):
    self._f.close()
    super().close()

  def writable(self):
    return True


def install(target: str, skip: int) -> None:
  _state.update(target=target, skip=skip, writes=0)
  real_open, real_write = builtins.open, os.write

  def open_(file, mode="r", *args, **kwargs):
    if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+") and _hit(file):
      raise _enospc(file)
    return real_open(file, mode, *args, **kwargs)

  def write(fd, data):
    try:
      path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
      path = ""
    if path and _hit(path):
      raise _enospc(path)
    return real_write(fd, data)

  builtins.open, os.write = open_, write
  from tensorboardX import record_writer  # noqa: PLC0415
  real_open_file = record_writer.open_file
  record_writer.open_file = lambda path: _FullFile(path, real_open_file(path))


if __name__ == "__main__":
  target, skip, flag, module, *rest = sys.argv[1:]
  assert flag == "-m", "usage: fault_injection.py TARGET SKIP -m MODULE ARGS..."
  install(target, int(skip))
  sys.argv = [module, *rest]
  runpy.run_module(module, run_name="__main__", alter_sys=True)

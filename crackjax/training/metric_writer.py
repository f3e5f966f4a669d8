"""Where logged events go: `workdir/metrics.jsonl` (one JSON object per line) and TensorBoard files.

Only process 0 writes. On resume from step S, lines with step > S (written after the checkpoint the
run resumes from, and about to be recomputed identically) are moved to `metrics.jsonl.stale` first,
so the log holds each step once and nothing is lost.

Every write happens in the calling (host-loop) thread and reaches the file system before `write`
returns, so a full disk fails at once naming the file (errors.DiskFullError). TensorBoard events are
written with tensorboardX's synchronous `EventsWriter` (framing, CRC and file naming as TensorBoard
expects) and flushed on every call -- not with its `SummaryWriter`, whose writer thread dies on a
full disk and leaves the trainer waiting on its queue for good. A line that a full disk cut short is
removed again, so `metrics.jsonl` stays readable for the rerun that resumes.
"""

from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np

from crackjax import errors


class MetricWriter:

  def __init__(self, workdir: str, resume_step: int = 0):
    self.enabled = jax.process_index() == 0
    self.path = os.path.join(workdir, "metrics.jsonl")
    self.tb_dir = os.path.join(workdir, "tensorboard")
    self._tb = None
    if not self.enabled:
      return
    self._drop_after(resume_step)
    from tensorboardX import event_file_writer  # noqa: PLC0415 (heavy import, process 0 only)
    with errors.writing(self.tb_dir):
      os.makedirs(self.tb_dir, exist_ok=True)
      self._tb = event_file_writer.EventsWriter(os.path.join(self.tb_dir, "events"))
      self._tb.flush()

  def _drop_after(self, step: int) -> None:
    if not os.path.exists(self.path):
      return
    with open(self.path) as f:
      lines = [l for l in f if l.endswith("\n") and l.strip()]   # an unterminated last line: cut short
    keep = [l for l in lines if json.loads(l)["step"] <= step]
    stale = [l for l in lines if json.loads(l)["step"] > step]
    if stale:
      with errors.writing(self.path + ".stale"), open(self.path + ".stale", "a") as f:
        f.writelines(stale)
    tmp = self.path + ".tmp"
    with errors.writing(self.path):
      with open(tmp, "w") as f:
        f.writelines(keep)
      os.replace(tmp, self.path)

  def write(self, step: int, scalars: dict) -> list[str]:
    """Appends one event; returns the keys whose values are not finite (they are written as NaN/inf)."""
    if not self.enabled or not scalars:
      return []
    scalars = {k: float(np.asarray(v)) for k, v in scalars.items()}
    line = (json.dumps({"step": int(step), **scalars}) + "\n").encode()
    with errors.writing(self.path):
      _append(self.path, line)
    self._write_tensorboard(step, scalars)
    return [k for k, v in scalars.items() if not math.isfinite(v)]

  def _write_tensorboard(self, step: int, scalars: dict) -> None:
    from tensorboardX import summary  # noqa: PLC0415
    from tensorboardX.proto import event_pb2  # noqa: PLC0415
    wall_time = time.time()
    with errors.writing(self.tb_dir):
      for k, v in scalars.items():
        self._tb.write_event(event_pb2.Event(wall_time=wall_time, step=int(step),
                                             summary=summary.scalar(k, v)))
      self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      tb, self._tb = self._tb, None
      with errors.writing(self.tb_dir):
        tb.close()


def _append(path: str, data: bytes) -> None:
  """Appends `data` to `path`, all or nothing: a write cut short (full disk) is truncated away."""
  fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
  try:
    size = os.fstat(fd).st_size
    try:
      view = memoryview(data)
      while view:
        view = view[os.write(fd, view):]
    except OSError:
      os.ftruncate(fd, size)
      raise
  finally:
    os.close(fd)


def read(workdir: str) -> list[dict]:
  """All events of `workdir/metrics.jsonl` (an unterminated last line, cut short by a crash, is left out)."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(l) for l in f if l.endswith("\n") and l.strip()]

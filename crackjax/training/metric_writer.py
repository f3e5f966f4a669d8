"""Where logged events go: `workdir/metrics.jsonl` (one JSON object per line) and TensorBoard files.

Only process 0 writes. On resume from step S, lines with step > S (written after the checkpoint the
run resumes from, and about to be recomputed identically) are moved to `metrics.jsonl.stale` first,
so the log holds each step once and nothing is lost.
"""

from __future__ import annotations

import json
import math
import os

import jax
import numpy as np


class MetricWriter:

  def __init__(self, workdir: str, resume_step: int = 0):
    self.enabled = jax.process_index() == 0
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._tb = None
    if not self.enabled:
      return
    self._drop_after(resume_step)
    from tensorboardX import SummaryWriter  # noqa: PLC0415 (heavy import, process 0 only)
    self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def _drop_after(self, step: int) -> None:
    if not os.path.exists(self.path):
      return
    with open(self.path) as f:
      lines = f.readlines()
    keep = [l for l in lines if l.strip() and json.loads(l)["step"] <= step]
    stale = [l for l in lines if l.strip() and json.loads(l)["step"] > step]
    if stale:
      with open(self.path + ".stale", "a") as f:
        f.writelines(stale)
    with open(self.path, "w") as f:
      f.writelines(keep)

  def write(self, step: int, scalars: dict) -> None:
    if not self.enabled or not scalars:
      return
    scalars = {k: float(np.asarray(v)) for k, v in scalars.items()}
    bad = [k for k, v in scalars.items() if not math.isfinite(v)]
    with open(self.path, "a") as f:
      f.write(json.dumps({"step": int(step), **scalars}) + "\n")
    for k, v in scalars.items():
      self._tb.add_scalar(k, v, step)
    if bad:
      raise FloatingPointError(f"non-finite metrics at step {step}: {bad}; see {self.path}.")

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def read(workdir: str) -> list[dict]:
  """All events of `workdir/metrics.jsonl`."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(l) for l in f if l.strip()]

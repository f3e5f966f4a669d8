"""The run's config and final metrics as TensorBoard hparams (`DIR/tensorboard/hparams/`), so that the
HParams dashboard compares runs: `tensorboard --logdir` over several workdirs lists each run's keys
(every config key, flattened; lists as text) beside its final and best validation metrics."""

from __future__ import annotations

import os

from crackjax import config_base
from crackjax import errors
from crackjax.training import metric_writer

RUN_NAME = "hparams"


def hparam_values(config) -> dict:
  """Every config key as an int, float, str or bool (TensorBoard's hparam types)."""
  flat = config_base.flatten(config.to_dict())
  return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in sorted(flat.items())}


def metric_values(workdir: str, final: dict) -> dict:
  """The final split's P/R/F1/IoU and the best val F1 of the run's metrics.jsonl."""
  prefix = "test" if final.get("split", "test") == "test" else "final_val"
  out = {f"hparams/{prefix}_{k}": float(final[k]) for k in ("precision", "recall", "f1", "iou") if k in final}
  val = [e["val/f1"] for e in metric_writer.read(workdir) if "val/f1" in e]
  if val:
    out["hparams/best_val_f1"] = float(max(val))
  return out


def write(workdir: str, config, final: dict) -> None:
  """Writes the hparams summary of the run in `workdir` (process 0 only)."""
  from tensorboardX import SummaryWriter  # noqa: PLC0415 (heavy import)
  logdir = os.path.join(workdir, "tensorboard", RUN_NAME)
  with errors.writing(logdir):
    writer = SummaryWriter(logdir)
    try:   # name=".": the summaries go into logdir itself, not a time-stamped folder below it
      writer.add_hparams(hparam_values(config), metric_values(workdir, final), name=".",
                         global_step=config.total_steps)
    finally:
      writer.close()

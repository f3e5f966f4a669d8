r"""Evaluates a trained run on one split of its dataset, on full images, with the full metric set.

    python -m crackjax.evaluate --workdir DIR [--split test] [--checkpoint_step N] [--config.key=value ...]

What it writes and the metric conventions: crackjax/evaluation/evaluate_run.py.
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags
from absl import logging

from crackjax import cli
from crackjax import errors
from crackjax.evaluation import evaluate_run
from crackjax.evaluation import full_images


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  cli.quiet_library_logs()
  step = _CHECKPOINT_STEP.value
  try:
    report = evaluate_run.evaluate(_WORKDIR.value, _SPLIT.value, None if step < 0 else step,
                                   cli.config_overrides(_CONFIG), progress_bar=_PROGRESS.value)
  except errors.SkippedInputsError as e:   # the good pairs were evaluated: their summary, then the error
    _log_summary(e.result)
    raise
  _log_summary(report)


def _log_summary(report: dict) -> None:
  g = f"grid{full_images.GRID_STEPS}"
  logging.info("%s split, checkpoint %d: %s", report["split"], report["checkpoint_step"], json.dumps(
      {k: round(report[k], 4) for k in ("precision", "recall", "f1", "iou", "miou_2class_pooled",
                                        f"ods_f1_pooled_{g}", f"ois_f1_mean_per_image_{g}",
                                        f"ap_pooled_stepwise_{g}", "relaxed_f1_r2px_pooled",
                                        "relaxed_f1_r5px_pooled", "cldice_pooled")}))
  logging.info("Wrote %s", os.path.join(os.path.abspath(_WORKDIR.value), "eval", f"{report['split']}.json"))


def run():
  """`python -m crackjax.evaluate` and the `crackjax-evaluate` console script."""
  global _WORKDIR, _SPLIT, _CHECKPOINT_STEP, _PROGRESS, _CONFIG  # noqa: PLW0603
  _WORKDIR = flags.DEFINE_string("workdir", None, "A crackjax training workdir (holds config.json and checkpoints/).")
  _SPLIT = flags.DEFINE_string("split", "test", "Split of the run's dataset to evaluate.")
  _CHECKPOINT_STEP = flags.DEFINE_integer("checkpoint_step", -1,
                                          "Checkpoint step to evaluate; -1: the best by val/f1.")
  _PROGRESS = flags.DEFINE_boolean("progress_bar", True, "Show a progress bar.")
  _CONFIG = cli.define_config_flag()
  flags.mark_flags_as_required(["workdir"])
  app.run(errors.run_main(main), flags_parser=cli.parse_flags)


if __name__ == "__main__":
  run()

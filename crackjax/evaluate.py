r"""Evaluates a trained run on one split of its dataset, on full images, with the full metric set.

    python -m crackjax.evaluate --workdir DIR [--split test] [--checkpoint_step N] [--config.key=value ...]
    python -m crackjax.evaluate --model NAME --output DIR --config.data.manual_dir=FOLDER [--split test]

A shipped model (`--model`, `python -m crackjax.predict --list_models`) is scored on a dataset named by
`--config.data.*` overrides (for a folder dataset, `data.manual_dir`); its results go to `--output`,
never into the installed package. A workdir's results go to `DIR/eval` unless `--output` says otherwise.

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
from crackjax import pretrained
from crackjax.evaluation import evaluate_run
from crackjax.evaluation import full_images


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  cli.quiet_library_logs()
  workdir = pretrained.model_or_workdir(_MODEL.value, _WORKDIR.value)
  if _MODEL.value and not _OUTPUT.value:
    raise errors.UserError(f"--model {_MODEL.value} needs --output DIR for the results (a shipped model's "
                           "folder is part of the installed package and is not written to).")
  step = _CHECKPOINT_STEP.value
  try:
    report = evaluate_run.evaluate(workdir, _SPLIT.value, None if step < 0 else step,
                                   cli.config_overrides(_CONFIG), progress_bar=_PROGRESS.value,
                                   output_dir=_OUTPUT.value)
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
  out_dir = _OUTPUT.value or os.path.join(_WORKDIR.value, "eval")
  logging.info("Wrote %s", os.path.join(os.path.abspath(out_dir), f"{report['split']}.json"))


def run():
  """`python -m crackjax.evaluate` and the `crackjax-evaluate` console script."""
  global _MODEL, _WORKDIR, _OUTPUT, _SPLIT, _CHECKPOINT_STEP, _PROGRESS, _CONFIG  # noqa: PLW0603
  _MODEL = flags.DEFINE_string("model", None, "A model shipped in the package (crackjax.predict --list_models); "
                               "needs --output.")
  _WORKDIR = flags.DEFINE_string("workdir", None, "A crackjax training workdir (holds config.json and "
                                 "checkpoints/) or model folder.")
  _OUTPUT = flags.DEFINE_string("output", None, "Folder for <split>.json, <split>_per_image.csv and "
                                "pr_curve.png; default: WORKDIR/eval.")
  _SPLIT = flags.DEFINE_string("split", "test", "Split of the run's dataset to evaluate.")
  _CHECKPOINT_STEP = flags.DEFINE_integer("checkpoint_step", -1,
                                          "Checkpoint step to evaluate; -1: the best by val/f1.")
  _PROGRESS = flags.DEFINE_boolean("progress_bar", True, "Show a progress bar.")
  _CONFIG = cli.define_config_flag()
  app.run(errors.run_main(main), flags_parser=cli.parse_flags)


if __name__ == "__main__":
  run()

r"""Evaluates a trained run on one split of its dataset, on full images, with the full metric set
(what `python -m crackjax.evaluate` runs).

Loads the run's resolved config (DIR/config.json), the checkpoint with the best val/f1 (the latest
if none was validated) or `--checkpoint_step`, predicts every image of the split at full size and
writes (process 0):

    DIR/eval/<split>.json              every metric with its convention (key `conventions`), the pooled
                                       PR curve on the threshold grid, which checkpoint and data
    DIR/eval/<split>_per_image.csv     one row per image (P/R/F1/IoU at the threshold, best F1 over the
                                       grid and its threshold, relaxed F1 at 2 and 5 px, clDice)
    DIR/eval/pr_curve.png              the PR curves of every <split>.json in DIR/eval

Overrides apply to the saved config, e.g. `--config.eval.threshold=0.3`, `--config.eval.batch_size=4`,
or another dataset (`--config.data.name=... --config.data.manual_dir=...`) for cross-dataset tests;
the architecture (`model.*`) is fixed by the checkpoint. The metrics and their conventions are
defined in crackjax/evaluation/crack_metrics.py; the trainer's final test evaluation (eval/final.json) runs the
same function (crackjax/evaluation/full_images.py).
"""

from __future__ import annotations

import glob
import json
import os
import time

import jax
import tqdm
from absl import logging

from crackjax import config_base
from crackjax import config_check
from crackjax import errors
from crackjax import json_file
from crackjax.data import sources
from crackjax.evaluation import full_images
from crackjax.inference import restored_run
from crackjax.report import plots


def evaluate(workdir: str, split: str = "test", checkpoint_step: int | None = None,
             overrides: dict | None = None, progress_bar: bool = True, output_dir: str | None = None) -> dict:
  """Evaluates `split` with the chosen checkpoint of the run in `workdir`; writes and returns the report.

  `workdir` is a training workdir or a model folder (a shipped model's included); the report goes to
  `output_dir` (default `workdir/eval`) as `<split>.json`, `<split>_per_image.csv` and `pr_curve.png`.

  A real dataset with bad image/mask pairs is evaluated on its good pairs; the bad ones are named in
  the log as they are found, listed in the report (`skipped_pairs`), and then `errors.SkippedInputsError`
  (its `result`: the report) says so -- unless the run's config.data.skip_bad_pairs accepts them.
  """
  workdir = os.path.abspath(workdir)
  config = restored_run.apply_overrides(config_base.load(workdir), overrides)
  config_check.validate(config, training=False)
  accumulator = full_images.new_accumulator(config.eval.threshold)  # fails fast on an off-grid threshold
  data_config = config.data.copy_and_resolve_references()
  data_config.skip_bad_pairs = True          # every good pair is evaluated; the bad ones reported below
  builder = sources.get_builder(data_config)
  skipped = sources.skipped_pairs(builder)
  source = sources.split_source(builder, split)
  restored = restored_run.restore(workdir, config, checkpoint_step)
  logging.info("Evaluating %s/%s split %r (%d images) with checkpoint %d (selected by %s).",
               config.data.name, builder.builder_config.name, split, len(source), restored.step,
               restored.selected_by)

  bar = tqdm.tqdm(total=len(source), unit="image", desc=f"evaluate {split}", dynamic_ncols=True,
                  disable=not progress_bar or jax.process_index() != 0)
  t0 = time.time()
  result = full_images.evaluate_split(
      restored.predict, restored.state, source, batch_size=config.eval.batch_size,
      pad_multiple=config.eval.pad_multiple, sharding=restored.batch_sharding,
      threshold=config.eval.threshold, accumulator=accumulator,
      on_image=lambda *_: bar.update(1))
  bar.close()
  seconds = time.time() - t0

  report = {
      **result,
      "split": split,
      "checkpoint_step": restored.step,
      "selected_by": restored.selected_by,
      "workdir": workdir,
      "dataset": {"name": config.data.name, "builder_config": builder.builder_config.name,
                  "data_dir": builder.data_dir},
      "config_overrides": dict(overrides or {}),
      "skipped_pairs": skipped,
      "seconds": seconds,
      "pr_curve": accumulator.pr_curve(),
  }
  report["conventions"] = {
      **result["conventions"],
      "pr_curve": (f"pooled precision / recall / f1 / crack IoU and TP/FP/FN/TN at every threshold "
                   f"k/{full_images.GRID_STEPS} (ascending); a pixel is crack iff prob >= t"),
      "checkpoint_step": "training step of the evaluated checkpoint",
      "selected_by": "how it was chosen: val/f1 (best validation F1), latest, or --checkpoint_step",
      "seconds": "wall time of prediction and metric accumulation over the split",
      "skipped_pairs": "bad image/mask pairs of a real dataset left out (each with its problems)",
  }
  out_dir = os.path.abspath(output_dir) if output_dir else os.path.join(workdir, "eval")
  if jax.process_index() == 0:
    json_file.write(os.path.join(out_dir, f"{split}.json"), report)
    accumulator.write_csv(os.path.join(out_dir, f"{split}_per_image.csv"), report["threshold"])
    plot_pr_curves(out_dir, os.path.join(out_dir, "pr_curve.png"))
  if skipped and not config.data.skip_bad_pairs:
    raise errors.SkippedInputsError(
        f"{len(skipped)} bad image/mask pair(s) of {config.data.manual_dir} were left out of this "
        f"evaluation ({'; '.join(line.split(':')[0] for line in skipped)}; each problem is in the log "
        f"and in {os.path.join(out_dir, split + '.json')} under skipped_pairs). Fix them, or pass "
        f"--config.data.skip_bad_pairs=true to accept the evaluation without them.", report)
  return report


def plot_pr_curves(eval_dir: str, path: str) -> None:
  """Plots the pooled PR curve of every `<split>.json` in `eval_dir` (written by `evaluate`) to `path`."""
  reports = []
  for json_path in sorted(glob.glob(os.path.join(eval_dir, "*.json"))):
    with open(json_path) as f:
      rep = json.load(f)
    if "pr_curve" in rep:
      reports.append(rep)
  plots.pr_curves(reports, path, grid_steps=full_images.GRID_STEPS)

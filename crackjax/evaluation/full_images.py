"""Full-image inference over a split and its scores: the one evaluation the trainer and
`python -m crackjax.evaluate` share.

Images are padded (mirror) to a multiple of `config.eval.pad_multiple`, batched, sharded over the
devices, and the probabilities cropped back to each image's size on the host. `evaluate_split` returns
the dataset-pooled precision/recall/F1/IoU at the threshold (what validation logs); given a
`crack_metrics.CrackMetricAccumulator` (`new_accumulator`) it also feeds every image to it and adds
the full set (mIoU, ODS, OIS, AP, tolerance-relaxed P/R/F1, clDice, each key with its convention).
"""

from __future__ import annotations

import jax
from absl import logging

from crackjax import errors
from crackjax.data import input_pipeline
from crackjax.evaluation import confusion
from crackjax.evaluation import crack_metrics
from crackjax.training import parallel


def eval_batch_size(requested: int) -> int:
  """`requested` rounded up to a multiple of the device count."""
  n = jax.device_count()
  return -(-max(requested, 1) // n) * n


def predict_split(predict_fn, state, source, *, batch_size: int, pad_multiple: int, sharding):
  """Yields (stem, probs `[h, w] float32`, mask `[h, w] uint8`) for every image of `source`."""
  batch_size = eval_batch_size(batch_size)
  rows = parallel.process_rows(batch_size)
  for batch in input_pipeline.full_image_batches(source, batch_size, pad_multiple):
    images = parallel.to_global({"image": batch["image"][rows]}, sharding)["image"]
    probs = parallel.gather(predict_fn(state, images))
    for j, (stem, mask, (h, w)) in enumerate(zip(batch["stem"], batch["mask"], batch["size"])):
      yield stem, probs[j, :h, :w], mask


# The full metric set: thresholds k / GRID_STEPS, tolerance radii in pixels.
GRID_STEPS = 100
TOLERANCES_PX = (2.0, 5.0)

# Conventions of the keys `evaluate_split` adds to the accumulator's result.
_CONVENTIONS = {
    "precision": "= precision_pooled: TP/(TP+FP), pixel counts pooled over the split at the threshold",
    "recall": "= recall_pooled: TP/(TP+FN), pooled, at the threshold",
    "f1": "= f1_pooled: 2TP/(2TP+FP+FN), pooled, at the threshold",
    "iou": "= iou_crack_pooled: TP/(TP+FP+FN) of the crack class, pooled, at the threshold",
    "tp": "pooled true-positive pixels at the threshold (counts_pooled.tp)",
    "fp": "pooled false-positive pixels at the threshold (counts_pooled.fp)",
    "fn": "pooled false-negative pixels at the threshold (counts_pooled.fn)",
    "images": "number of images evaluated (= n_images)",
}


def new_accumulator(threshold: float,
                    strict: bool = True) -> crack_metrics.CrackMetricAccumulator | None:
  """The accumulator of the full metric set at operating threshold `threshold` (= config.eval.threshold).

  When `threshold` is not on the grid k/GRID_STEPS: raises ValueError naming the key, or with
  `strict=False` logs that and returns None (the trainer's final evaluation then writes the pooled
  scores only rather than failing after training).
  """
  k = round(threshold * GRID_STEPS)
  if abs(threshold * GRID_STEPS - k) > 1e-6 or not 0 <= k <= GRID_STEPS:
    message = (f"config.eval.threshold={threshold} is not on the metric grid k/{GRID_STEPS} "
               f"(0.00, 0.01, ..., 1.00) that ODS/OIS/AP and the spatial metrics use; set "
               f"--config.eval.threshold={min(max(k, 0), GRID_STEPS) / GRID_STEPS:g}.")
    if strict:
      raise errors.UserError(message)
    logging.warning("%s Only the pooled precision/recall/f1/iou are computed.", message)
    return None
  return crack_metrics.CrackMetricAccumulator(n_steps=GRID_STEPS, thresholds=(k / GRID_STEPS,),
                                              tolerances_px=TOLERANCES_PX)


def evaluate_split(predict_fn, state, source, *, batch_size: int, pad_multiple: int, sharding,
                   threshold: float = 0.5, accumulator=None, on_image=None) -> dict:
  """Scores `state` on every image of `source`.

  Returns a JSON-serialisable dict with the dataset-pooled `precision`, `recall`, `f1`, `iou`, counts
  `tp`, `fp`, `fn`, `images` and `threshold`. With `accumulator` (from `new_accumulator(threshold)`),
  each image is also added to it and its `result(threshold)` is merged in (with `conventions`); the
  four pooled scores and the counts then come from the accumulator's counts (prob >= threshold
  compared in float64), so `f1 == f1_pooled` etc. hold exactly. `on_image(stem, probs, mask)` is
  called for every image (e.g. a progress bar).
  """
  totals = {"tp": 0.0, "fp": 0.0, "fn": 0.0}
  n = 0
  for stem, probs, mask in predict_split(predict_fn, state, source, batch_size=batch_size,
                                         pad_multiple=pad_multiple, sharding=sharding):
    if accumulator is not None:
      accumulator.update(probs, mask, stem=stem)
    else:
      for k, v in confusion.confusion_counts_np(probs, mask, threshold).items():
        totals[k] += v
    if on_image is not None:
      on_image(stem, probs, mask)
    n += 1
  if accumulator is None:
    return {**confusion.scores(totals), **totals, "images": n, "threshold": threshold}
  if n == 0:
    raise errors.UserError("the split holds no images to evaluate.")
  full = accumulator.result(threshold)
  totals = {k: float(full["counts_pooled"][k]) for k in ("tp", "fp", "fn")}
  full["conventions"].update(_CONVENTIONS)
  return {**full, **confusion.scores(totals), **totals, "images": n,
          "threshold": full["threshold"]}

"""Pixel confusion counts (in-graph and numpy) and the scores the host derives from them.

The step sums TP/FP/FN over the global batch inside `jit`; the host turns summed counts into
precision, recall, F1 and crack IoU. Conventions (0/0): precision = 1 when nothing is predicted
positive, recall = 1 when there is no crack pixel, F1 and IoU = 1 when both prediction and ground
truth are empty (a perfect answer on a crack-free set), else 0 where undefined.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np
import scipy.special


def confusion_counts(logits, labels, threshold: float = 0.5, per_example: bool = False) -> dict:
  """TP/FP/FN of `[B, H, W, 1] float32 logits` against `[B, H, W, 1]` {0, 1} labels, as float32 scalars
  (`[B] float32` per example with `per_example=True`).

  A pixel is predicted crack iff sigmoid(logit) >= threshold.
  """
  logit_threshold = float(scipy.special.logit(threshold))
  pred = logits >= logit_threshold
  truth = labels > 0.5
  axes = tuple(range(1, logits.ndim)) if per_example else None
  f = lambda x: jnp.sum(x, axis=axes, dtype=jnp.float32)
  return {"tp": f(pred & truth), "fp": f(pred & ~truth), "fn": f(~pred & truth)}


def confusion_counts_np(probs: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> dict:
  """The numpy twin of `confusion_counts` on probabilities: `probs` float [..], `mask` {0, 1} [..]."""
  pred = probs >= threshold
  truth = mask > 0
  return {"tp": float(np.sum(pred & truth)), "fp": float(np.sum(pred & ~truth)),
          "fn": float(np.sum(~pred & truth))}


def scores(counts: Mapping[str, float]) -> dict:
  """precision, recall, f1, iou from summed counts (see the module docstring for 0/0)."""
  tp, fp, fn = (float(counts[k]) for k in ("tp", "fp", "fn"))
  precision = tp / (tp + fp) if tp + fp > 0 else 1.0
  recall = tp / (tp + fn) if tp + fn > 0 else 1.0
  if tp + fp + fn == 0:
    f1 = iou = 1.0
  else:
    f1 = 2 * tp / (2 * tp + fp + fn)
    iou = tp / (tp + fp + fn)
  return {"precision": precision, "recall": recall, "f1": f1, "iou": iou}

"""Full-image inference over a split and the pooled scores the trainer logs.

Images are padded (mirror) to a multiple of `config.eval.pad_multiple`, batched, sharded over the
devices, and the probabilities cropped back to each image's size on the host.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils

from crackjax import metrics as metrics_lib
from crackjax import parallel
from crackjax.data import pipeline


def eval_batch_size(requested: int) -> int:
  """`requested` rounded up to a multiple of the device count."""
  n = jax.device_count()
  return -(-max(requested, 1) // n) * n


def predict_split(predict_fn, state, source, *, batch_size: int, pad_multiple: int, sharding):
  """Yields (stem, probs `[h, w] float32`, mask `[h, w] uint8`) for every image of `source`."""
  batch_size = eval_batch_size(batch_size)
  local = batch_size // jax.process_count()
  lo = jax.process_index() * local
  for batch in pipeline.full_image_batches(source, batch_size, pad_multiple):
    images = parallel.to_global({"image": batch["image"][lo:lo + local]}, sharding)["image"]
    probs = predict_fn(state, images)
    probs = np.asarray(multihost_utils.process_allgather(probs, tiled=True)
                       if jax.process_count() > 1 else probs)
    for j, (stem, mask, (h, w)) in enumerate(zip(batch["stem"], batch["mask"], batch["size"])):
      yield stem, probs[j, :h, :w], mask


def evaluate_split(predict_fn, state, source, *, batch_size: int, pad_multiple: int, sharding,
                   threshold: float = 0.5) -> dict:
  """Dataset-pooled precision, recall, f1, iou (+ counts and image count) at `threshold`."""
  totals = {"tp": 0.0, "fp": 0.0, "fn": 0.0}
  n = 0
  for _, probs, mask in predict_split(predict_fn, state, source, batch_size=batch_size,
                                      pad_multiple=pad_multiple, sharding=sharding):
    for k, v in metrics_lib.confusion_counts_np(probs, mask, threshold).items():
      totals[k] += v
    n += 1
  return {**metrics_lib.scores(totals), **totals, "images": n, "threshold": threshold}

"""The patch index: where positive and negative training patches lie in each full image.

A patch grid (origins every `stride` px, the last row/column aligned to the image edge) is laid over
every image; a window is *positive* when it holds at least `min_crack_pixels` crack pixels and
*negative* when it holds none (windows in between belong to neither pool). The index is built once per
(split, patch, stride, min_crack_pixels) from the masks alone and cached beside the prepared dataset.
Uniform sampling over the grid takes a positive patch with probability `natural_pos_rate`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from crackjax import errors


def grid_origins(length: int, patch: int, stride: int) -> np.ndarray:
  """Window origins along one axis: 0, stride, ... and `length - patch` (all 0 if length <= patch)."""
  if length <= patch:
    return np.zeros(1, np.int32)
  origins = np.arange(0, length - patch + 1, stride)
  if origins[-1] != length - patch:
    origins = np.append(origins, length - patch)
  return origins.astype(np.int32)


def window_counts(mask: np.ndarray, patch: int, stride: int):
  """Crack pixels in every grid window of a `[H, W]` {0, 1} mask, via an integral image.

  Returns (`[ny, nx] int64` counts, `[ny]` y origins, `[nx]` x origins).
  """
  h, w = mask.shape
  ys, xs = grid_origins(h, patch, stride), grid_origins(w, patch, stride)
  integral = np.zeros((h + 1, w + 1), np.int64)
  integral[1:, 1:] = np.cumsum(np.cumsum(mask > 0, axis=0, dtype=np.int64), axis=1)
  y0, x0 = ys[:, None], xs[None, :]
  y1, x1 = np.minimum(y0 + patch, h), np.minimum(x0 + patch, w)
  counts = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
  return counts, ys, xs


@dataclasses.dataclass
class PatchIndex:
  """Patch locations of one split.

  Attributes:
    pos, neg: `[N, 3] int32` rows (image index, y origin, x origin).
    crack_pixels, total_pixels: pixel counts over the split's full images.
  """
  pos: np.ndarray
  neg: np.ndarray
  crack_pixels: int
  total_pixels: int

  @property
  def natural_pos_rate(self) -> float:
    return len(self.pos) / max(len(self.pos) + len(self.neg), 1)

  @property
  def pixel_pos_fraction(self) -> float:
    return self.crack_pixels / max(self.total_pixels, 1)


def build(masks, patch: int, stride: int, min_crack_pixels: int = 1) -> PatchIndex:
  """Builds the index from an iterable of `[H, W]` or `[H, W, 1]` {0, 1} masks (one pass)."""
  if min_crack_pixels < 1:
    raise errors.UserError(f"config.data.min_crack_pixels must be >= 1, got {min_crack_pixels}.")
  pos, neg, crack, total = [], [], 0, 0
  for i, mask in enumerate(masks):
    mask = np.asarray(mask)
    mask = mask[..., 0] if mask.ndim == 3 else mask
    counts, ys, xs = window_counts(mask, patch, stride)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    rows = np.stack([np.full(yy.size, i), yy.ravel(), xx.ravel()], 1).astype(np.int32)
    pos.append(rows[counts.ravel() >= min_crack_pixels])
    neg.append(rows[counts.ravel() == 0])
    crack += int(np.count_nonzero(mask))
    total += mask.size
  empty = np.zeros((0, 3), np.int32)
  return PatchIndex(np.concatenate(pos or [empty]), np.concatenate(neg or [empty]), crack, total)


def load_or_build(source, cache_dir: str, split: str, patch: int, stride: int,
                  min_crack_pixels: int) -> PatchIndex:
  """The cached index of `source` (a tfds data source with a 'mask' feature), built on first use."""
  path = os.path.join(cache_dir, f"patch_index_{split}_p{patch}_s{stride}_k{min_crack_pixels}.npz")
  if os.path.exists(path):
    with np.load(path) as z:
      return PatchIndex(z["pos"], z["neg"], int(z["crack_pixels"]), int(z["total_pixels"]))
  index = build((source[i]["mask"] for i in range(len(source))), patch, stride, min_crack_pixels)
  tmp = path + f".tmp{os.getpid()}.npz"
  with errors.writing(path):
    np.savez(tmp, pos=index.pos, neg=index.neg, crack_pixels=index.crack_pixels,
             total_pixels=index.total_pixels)
  os.replace(tmp, path)
  return index

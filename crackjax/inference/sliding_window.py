"""Sliding-window prediction of one image of any size: tiles of the mirror-padded image through the
model in sharded batches, blended seam-free into finished row bands of probabilities (`predict_bands`),
kept as an 8-bit map and a mask (`predict_image`, the CLI) or as float32 (`predict_probabilities`, the
Python API). Geometry and blending: crackjax/inference/tile_grid.py.
"""

from __future__ import annotations

import dataclasses
from typing import Callable
from typing import Iterator

import numpy as np

from crackjax import errors
from crackjax.evaluation import full_images
from crackjax.inference import tile_grid
from crackjax.training import parallel


@dataclasses.dataclass(frozen=True)
class TileSettings:
  """Sliding-window settings (pixels); see crackjax/inference/tile_grid.py for the blend."""
  tile_size: int = 512
  overlap: int = 128
  margin: int = 32
  tile_batch: int = 4   # tiles per device batch (rounded up to a multiple of the device count)

  def check(self, multiple: int) -> None:
    if self.tile_size < multiple or self.tile_size % multiple:
      raise errors.UserError(f"--tile_size={self.tile_size} must be a positive multiple of "
                             f"config.eval.pad_multiple={multiple} (the model needs sizes divisible by it).")
    if not 0 <= 2 * self.margin <= self.overlap < self.tile_size:
      raise errors.UserError(f"need 0 <= 2 * --margin <= --overlap < --tile_size, got margin={self.margin}, "
                             f"overlap={self.overlap}, tile_size={self.tile_size}.")
    if self.tile_batch < 1:
      raise errors.UserError(f"--tile_batch={self.tile_batch} must be >= 1.")


def image_grid(height: int, width: int, settings: TileSettings, multiple: int) -> tile_grid.TileGrid:
  """The tile grid of an image of `height x width`, mirror-padded to multiples of `multiple` (as the
  full-image evaluation pads): tiles of `settings.tile_size` (smaller along an axis where the padded
  image is smaller) at origins that are multiples of `multiple`."""
  tile_h, pad_h = tile_grid.padded_size(height, settings.tile_size, multiple)
  tile_w, pad_w = tile_grid.padded_size(width, settings.tile_size, multiple)
  return tile_grid.make_grid(pad_h, pad_w, tile_h, tile_w, overlap=settings.overlap,
                          margin=settings.margin, align=multiple)


def predict_bands(predict_fn, state, batch_sharding, image: np.ndarray, *, settings: TileSettings,
                  multiple: int, on_tiles: Callable[[int], None] | None = None
                  ) -> Iterator[tuple[int, np.ndarray]]:
  """Sliding-window prediction of one image, as finished row bands (the one window every caller uses).

  Args:
    predict_fn: `(state, [B, h, w, 3] uint8) -> [B, h, w] float32` probabilities (inference.Restored).
    image: `[H, W, 3] uint8`, any size.
    multiple: tile sizes are multiples of this (config.eval.pad_multiple).
    on_tiles: called with the number of tiles done after each batch (progress).

  Yields:
    `(y0, [rows, W] float32)`: the blended probabilities of image rows `y0 .. y0 + rows - 1`; over the
    whole image the bands cover rows `0 .. H - 1` once, in order.
  """
  h, w = image.shape[:2]
  grid = image_grid(h, w, settings, multiple)  # tiles() mirror-pads virtually to the grid's size
  tile_h, tile_w = grid.tile_h, grid.tile_w
  stitcher = tile_grid.Stitcher(grid)
  batch = full_images.eval_batch_size(settings.tile_batch)
  rows = parallel.process_rows(batch)

  def finish(start, stop, probs):
    probs = parallel.gather(probs)
    for j, i in enumerate(range(start, stop)):
      for y0, band in stitcher.add(i, probs[j]):
        y1 = min(y0 + len(band), h)
        if y1 > y0:
          yield y0, band[:y1 - y0, :w]
    if on_tiles is not None:
      on_tiles(stop - start)

  pending = None
  for start, stop in tile_grid.iter_batches(len(grid), batch):
    # This process's slots (parallel.process_rows) of the batch; slots past the last tile stay zero.
    tiles = np.zeros((rows.stop - rows.start, tile_h, tile_w, 3), np.uint8)
    a, b = min(start + rows.start, stop), min(start + rows.stop, stop)
    tiles[:b - a] = tile_grid.tiles(image, grid, a, b)
    probs = predict_fn(state, parallel.to_global({"x": tiles}, batch_sharding)["x"])
    if pending is not None:  # overlap the device's work on this batch with stitching the last one
      yield from finish(*pending)
    pending = (start, stop, probs)
  yield from finish(*pending)


def predict_image(predict_fn, state, batch_sharding, image: np.ndarray, *, threshold: float,
                  settings: TileSettings, multiple: int,
                  on_tiles: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Sliding-window prediction of one image as an 8-bit map and a mask (what `crackjax.predict` writes).

  Args: as `predict_bands`, and
    threshold: a pixel is crack iff its blended probability p >= threshold (compared in float64).

  Returns:
    `([H, W] uint8 round(255 p), [H, W] bool p >= threshold)`.
  """
  h, w = image.shape[:2]
  prob8 = np.empty((h, w), np.uint8)
  mask = np.empty((h, w), bool)
  t = np.float64(threshold)
  for y0, band in predict_bands(predict_fn, state, batch_sharding, image, settings=settings,
                                multiple=multiple, on_tiles=on_tiles):
    prob8[y0:y0 + len(band)] = np.rint(np.clip(band, 0.0, 1.0) * 255.0).astype(np.uint8)
    mask[y0:y0 + len(band)] = band >= t
  return prob8, mask


def predict_probabilities(predict_fn, state, batch_sharding, image: np.ndarray, *, settings: TileSettings,
                          multiple: int, on_tiles: Callable[[int], None] | None = None) -> np.ndarray:
  """Sliding-window prediction of one image as `[H, W] float32` blended probabilities (args: `predict_bands`)."""
  out = np.empty(image.shape[:2], np.float32)
  for y0, band in predict_bands(predict_fn, state, batch_sharding, image, settings=settings,
                                multiple=multiple, on_tiles=on_tiles):
    out[y0:y0 + len(band)] = band
  return out

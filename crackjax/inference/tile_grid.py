"""Overlapping tiles over a large image, their blend weights, and streaming stitching (pure numpy).

Sliding-window inference (crackjax/predict.py) cuts an image into tiles, runs the model on batches of
tiles and blends the tile outputs back into one map. This module holds the geometry; it knows nothing
about models or devices.

Tile grid (per axis)
    `n = ceil((L - T) / (T - overlap)) + 1` tiles of size `T` with origins `round(linspace(0, L - T, n))`:
    the first tile starts at 0, the last ends exactly at the edge, and consecutive tiles overlap by at
    least `overlap` pixels (more when the division is not exact). With `align = a`, lengths, tiles and
    origins are multiples of `a` (the grid is computed in units of `a`): for a network that pools
    `log2(a)` times, every tile then sees the pooling grid in the same phase as the whole image does,
    so tiles agree with each other and with full-image inference (crackjax/evaluation/full_images.py). Unaligned
    tiles of a 4-level U-Net differ from full-image inference by up to 0.9 in probability (measured,
    docs/inference.md). The image is padded (mirror, `numpy.pad(mode="symmetric")`) at the bottom and
    right to the grid's size: `padded_size` gives it, `tiles` pads virtually (no copy of the image).

Blend weights (per axis; the 2-D weight of a tile is the outer product of its row and column weights)
    Between consecutive tiles k and k+1, whose overlap is `[o_{k+1}, o_k + T)` of length `v`, the cut
    `c = (o_{k+1} + o_k + T) / 2` is the middle of the overlap. Tile k owns the pixels before `c`, tile
    k+1 those after it, and across `[c - h, c + h)` they cross-fade with a raised cosine (Hann) ramp:
    at pixel centre `x + 0.5`, with `u = clip((x + 0.5 - (c - h)) / 2h, 0, 1)`, tile k+1 weighs
    `sin^2(pi u / 2)` and tile k `cos^2(pi u / 2)`. The half-width is
    `h = min(v / 2 - margin, (o_{k+1} - o_k) / 2)`: the fade stays `margin` pixels away from both tiles'
    inner edges and never meets the neighbouring cut's fade. Consequences:
      - the weights of all tiles sum to 1 at every pixel (a partition of unity; exactly 1 outside the
        fades, 1 up to rounding inside them), and every pixel has positive total weight;
      - a tile's pixels within `margin` of an edge it shares with a neighbour get weight exactly 0
        (that is where a convolutional model sees zero padding instead of the image); along the image
        border a tile keeps full weight, since no other tile covers those pixels;
      - a model whose output at a pixel depends only on the input within `margin` pixels (a
        translation-equivariant model with receptive-field radius <= margin) gives, after stitching,
        the same map as when applied to the whole image at once: no seams. For a U-Net (receptive
        field of ~100+ px) the margin removes the worst zero-padding artefacts and the wide cosine
        fade hides the rest; `tests/test_tiling.py` checks both properties.

Stitching
    `out = sum_t w_t p_t / sum_t w_t` accumulated in float64 and returned as float32, so a constant
    model stitches to exactly that constant. `Stitcher` streams: tiles arrive in raster order and
    whole row bands are returned as soon as no later tile touches them, so it holds at most about one
    tile row of accumulators (`T x W` float64), not the whole image.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterator

import numpy as np


def tile_origins(length: int, tile: int, overlap: int) -> np.ndarray:
  """`[n] int64` origins of tiles of `tile` px covering `[0, length)`, consecutive overlap >= `overlap`."""
  if tile < 1 or not 0 <= overlap < tile:
    raise ValueError(f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}.")
  if length < tile:
    raise ValueError(f"length {length} is smaller than the tile {tile}; pad the image first "
                     f"(crackjax.inference.tile_grid.padded_size).")
  n = 1 if length == tile else math.ceil((length - tile) / (tile - overlap)) + 1
  return np.round(np.linspace(0, length - tile, n)).astype(np.int64)


def axis_weights(origins: np.ndarray, tile: int, margin: int) -> np.ndarray:
  """`[n, tile] float64` blend weights of each tile along one axis (see the module docstring)."""
  origins = np.asarray(origins, np.int64)
  n = len(origins)
  weights = np.ones((n, tile), np.float64)
  centres = np.arange(tile, dtype=np.float64) + 0.5  # pixel centres, tile coordinates
  for k in range(n - 1):
    a, b = int(origins[k]), int(origins[k + 1])
    overlap = a + tile - b
    if overlap < 2 * margin:
      raise ValueError(f"tiles at {a} and {b} overlap by {overlap} px, less than 2 * margin = "
                       f"{2 * margin}; increase the overlap or decrease the margin.")
    cut = (a + tile + b) / 2.0
    half = max(0.0, min(overlap / 2.0 - margin, (b - a) / 2.0))
    for j, origin in ((k, a), (k + 1, b)):
      x = centres + origin
      if half > 0:
        u = np.clip((x - (cut - half)) / (2.0 * half), 0.0, 1.0)
      else:
        u = (x >= cut).astype(np.float64)
      rising = np.sin(0.5 * np.pi * u) ** 2  # weight of tile k + 1
      weights[j] *= rising if j == k + 1 else 1.0 - rising
  return weights


def padded_size(length: int, tile: int, multiple: int) -> tuple[int, int]:
  """`(tile used, padded length)` along one axis: the length rounded up to `multiple` and a tile no
  larger than that (`tile` must be a multiple of `multiple`)."""
  if tile % multiple:
    raise ValueError(f"tile {tile} is not a multiple of {multiple}.")
  padded = -(-length // multiple) * multiple
  return min(tile, padded), padded


@dataclasses.dataclass(frozen=True)
class TileGrid:
  """Tiles of `tile_h x tile_w` over an image of `height x width`, in raster order.

  Attributes:
    ys, xs: `[ny]`, `[nx]` int64 tile origins per axis; tile `i` is at `(ys[i // nx], xs[i % nx])`.
    wy, wx: `[ny, tile_h]`, `[nx, tile_w]` float64 per-axis blend weights.
    norm_y, norm_x: `[height]`, `[width]` float64 per-axis sums of the weights (1 up to rounding);
      the total weight at (y, x) is `norm_y[y] * norm_x[x]`.
  """
  height: int
  width: int
  tile_h: int
  tile_w: int
  ys: np.ndarray
  xs: np.ndarray
  wy: np.ndarray
  wx: np.ndarray
  norm_y: np.ndarray
  norm_x: np.ndarray

  def __len__(self) -> int:
    return len(self.ys) * len(self.xs)

  @property
  def columns(self) -> int:
    return len(self.xs)

  def origin(self, i: int) -> tuple[int, int]:
    return int(self.ys[i // self.columns]), int(self.xs[i % self.columns])

  def weight(self, i: int) -> np.ndarray:
    """`[tile_h, tile_w] float64` blend weight of tile `i`."""
    return np.outer(self.wy[i // self.columns], self.wx[i % self.columns])

  def row_support(self, r: int) -> tuple[int, int]:
    """Image rows `[y0, y1)` where tile row `r` has non-zero weight."""
    nz = np.flatnonzero(self.wy[r] > 0)
    return int(self.ys[r] + nz[0]), int(self.ys[r] + nz[-1] + 1)


def _axis_norm(origins: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
  norm = np.zeros(length, np.float64)
  for o, w in zip(origins, weights):
    norm[o:o + len(w)] += w
  return norm


def _aligned_origins(length: int, tile: int, overlap: int, align: int) -> np.ndarray:
  if length % align or tile % align:
    raise ValueError(f"length {length} and tile {tile} must be multiples of align={align}; pad the "
                     f"image to crackjax.inference.tile_grid.padded_size first.")
  units = tile // align
  return tile_origins(length // align, units, min(-(-overlap // align), units - 1)) * align


def make_grid(height: int, width: int, tile_h: int, tile_w: int | None = None, *, overlap: int,
              margin: int = 0, align: int = 1) -> TileGrid:
  """The tile grid of an image of `height x width` (each >= its tile size; all multiples of `align`).

  Consecutive tiles overlap by at least `overlap` px (`min(overlap, tile - align)` for a tile that
  spans the whole axis anyway)."""
  tile_w = tile_h if tile_w is None else tile_w
  if margin < 0 or overlap < 2 * margin:
    raise ValueError(f"need 0 <= 2 * margin <= overlap, got margin={margin}, overlap={overlap}: the "
                     f"blend fades out within the overlap, at least `margin` px from each tile edge.")
  ys = _aligned_origins(height, tile_h, overlap, align)
  xs = _aligned_origins(width, tile_w, overlap, align)
  wy, wx = axis_weights(ys, tile_h, margin), axis_weights(xs, tile_w, margin)
  return TileGrid(height, width, tile_h, tile_w, ys, xs, wy, wx,
                  _axis_norm(ys, wy, height), _axis_norm(xs, wx, width))


def _mirror(index: np.ndarray, length: int) -> np.ndarray:
  """Indices past `length - 1` reflected as `numpy.pad(mode="symmetric")` does (any pad width)."""
  m = index % (2 * length)
  return np.where(m < length, m, 2 * length - 1 - m)


def tiles(image: np.ndarray, grid: TileGrid, start: int, stop: int) -> np.ndarray:
  """`[stop - start, tile_h, tile_w, ...]` copies of tiles `start .. stop - 1` of `image` `[H, W, ...]`.

  Where a tile reaches past the image (`H < grid.height` or `W < grid.width`), the image is continued
  as `numpy.pad(image, ..., mode="symmetric")` would, without padding the whole image.
  """
  h, w = image.shape[:2]
  if h > grid.height or w > grid.width:
    raise ValueError(f"image {h}x{w} is larger than the grid {grid.height}x{grid.width}.")
  out = np.empty((stop - start, grid.tile_h, grid.tile_w) + image.shape[2:], image.dtype)
  for j, i in enumerate(range(start, stop)):
    y, x = grid.origin(i)
    if y + grid.tile_h <= h and x + grid.tile_w <= w:
      out[j] = image[y:y + grid.tile_h, x:x + grid.tile_w]
    else:
      rows = _mirror(np.arange(y, y + grid.tile_h), h)
      cols = _mirror(np.arange(x, x + grid.tile_w), w)
      out[j] = image[rows[:, None], cols[None, :]]
  return out


class Stitcher:
  """Blends tile outputs, given in raster order, into finished row bands of the full map.

  `add(i, tile)` takes tile `i`'s `[tile_h, tile_w]` output and returns the bands that became final,
  as a list of `(y0, [rows, width] float32)`; over all tiles the bands cover rows `0 .. height - 1`
  once, in order. Memory: one `[tile_h, width]` float64 accumulator (two while moving to the next
  tile row).
  """

  def __init__(self, grid: TileGrid):
    self.grid = grid
    self._next = 0
    self._done = 0          # rows [0, done) were returned
    self._row = -1          # current tile row
    self._acc = None        # [tile_h, width] float64, anchored at ys[row]

  def _start_row(self, r: int) -> None:
    g = self.grid
    acc = np.zeros((g.tile_h, g.width), np.float64)
    if self._acc is not None:  # carry the unfinished rows of the previous tile row
      y_old, y_new = int(g.ys[self._row]), int(g.ys[r])
      lo, hi = max(self._done, y_new), y_old + g.tile_h
      if hi > lo:
        acc[lo - y_new:hi - y_new] = self._acc[lo - y_old:hi - y_old]
    self._acc, self._row = acc, r

  def _band(self, stop: int) -> tuple[int, np.ndarray]:
    g = self.grid
    y0 = int(g.ys[self._row])
    lo = self._done
    band = self._acc[lo - y0:stop - y0] / (g.norm_y[lo:stop, None] * g.norm_x[None, :])
    self._done = stop
    return lo, band.astype(np.float32)

  def add(self, i: int, tile: np.ndarray) -> list[tuple[int, np.ndarray]]:
    g = self.grid
    if i != self._next:
      raise ValueError(f"tiles must arrive in raster order: expected tile {self._next}, got {i}.")
    if tile.shape != (g.tile_h, g.tile_w):
      raise ValueError(f"tile {i} has shape {tile.shape}, expected {(g.tile_h, g.tile_w)}.")
    r, c = divmod(i, g.columns)
    if r != self._row:
      self._start_row(r)
    x = int(g.xs[c])
    self._acc[:, x:x + g.tile_w] += g.weight(i) * tile
    self._next += 1
    if c < g.columns - 1:
      return []
    stop = g.height if r == len(g.ys) - 1 else g.row_support(r + 1)[0]
    return [self._band(stop)] if stop > self._done else []


def stitch(grid: TileGrid, tile_outputs: np.ndarray) -> np.ndarray:
  """`[len(grid), tile_h, tile_w]` tile outputs -> `[height, width] float32` (all at once; tests)."""
  out = np.empty((grid.height, grid.width), np.float32)
  stitcher = Stitcher(grid)
  for i, t in enumerate(tile_outputs):
    for y0, band in stitcher.add(i, np.asarray(t)):
      out[y0:y0 + len(band)] = band
  return out


def iter_batches(n: int, batch: int) -> Iterator[tuple[int, int]]:
  """`(start, stop)` of consecutive batches of `batch` items over `range(n)` (the last may be short)."""
  for start in range(0, n, batch):
    yield start, min(start + batch, n)

"""Skeleton-graph helpers of the crack measurement (host side, numpy/scipy): corner cleaning, edge
maps and degrees, spur pruning, marching to the mask edge, chain-code factors, local moments and
segment axes. The conventions they implement are in crackjax/measurement/geometry.py's docstring.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi


_SQRT2 = math.sqrt(2.0)


EIGHT = np.ones((3, 3), dtype=bool)


LATERAL_OFFSETS = np.arange(-4, 5) * 0.25  # px, ray shifts along the tangent for widths


def _shift(a: np.ndarray, dr: int, dc: int) -> np.ndarray:
  """`out[r, c] = a[r + dr, c + dc]` (False outside)."""
  out = np.zeros_like(a)
  h, w = a.shape
  rs = slice(max(0, -dr), min(h, h - dr))
  cs = slice(max(0, -dc), min(w, w - dc))
  rd = slice(max(0, dr), min(h, h + dr))
  cd = slice(max(0, dc), min(w, w + dc))
  out[rs, cs] = a[rd, cd]
  return out


def remove_staircase_corners(skel: np.ndarray) -> np.ndarray:
  """Drop pixels whose only 2 neighbours are an L of 4-neighbours (safe in parallel)."""
  n = ndi.convolve(skel.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") - skel
  up, down = _shift(skel, -1, 0), _shift(skel, 1, 0)
  left, right = _shift(skel, 0, -1), _shift(skel, 0, 1)
  ell = (up & right) | (right & down) | (down & left) | (left & up)
  redundant = skel & (n == 2) & ell
  return skel & ~redundant


def edge_maps(skel: np.ndarray) -> list[tuple[int, int, np.ndarray, float]]:
  """Graph edges as `(dr, dc, start_mask, length)`; edge from `p` to `p + (dr, dc)`."""
  s = skel
  out = []
  out.append((0, 1, s & _shift(s, 0, 1), 1.0))
  out.append((1, 0, s & _shift(s, 1, 0), 1.0))
  out.append((1, 1, s & _shift(s, 1, 1) & ~(_shift(s, 0, 1) | _shift(s, 1, 0)), _SQRT2))
  out.append((1, -1, s & _shift(s, 1, -1) & ~(_shift(s, 0, -1) | _shift(s, 1, 0)), _SQRT2))
  return out


def degree(skel: np.ndarray, edges: list[tuple[int, int, np.ndarray, float]]) -> np.ndarray:
  deg = np.zeros(skel.shape, np.int32)
  for dr, dc, m, _ in edges:
    deg += m
    deg += _shift(m, -dr, -dc)  # the other end point of each edge
  return deg


def _neighbours(skel: np.ndarray, r: int, c: int) -> list[tuple[int, int, float]]:
  """Graph neighbours of skeleton pixel `(r, c)` with edge lengths."""
  h, w = skel.shape

  def on(a: int, b: int) -> bool:
    return 0 <= a < h and 0 <= b < w and bool(skel[a, b])

  out = []
  for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
    if on(r + dr, c + dc):
      out.append((r + dr, c + dc, 1.0))
  for dr, dc in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
    if on(r + dr, c + dc) and not (on(r + dr, c) or on(r, c + dc)):
      out.append((r + dr, c + dc, _SQRT2))
  return out


def prune_spurs(skel: np.ndarray, dt: np.ndarray, factor: float, extra: float) -> np.ndarray:
  """Remove end-point-to-junction branches shorter than `factor * DT(junction) + extra`."""
  skel = skel.copy()
  deg = degree(skel, edge_maps(skel))
  if not np.any(deg >= 3):
    return skel
  max_len = factor * float(dt.max()) + extra + 1.0
  to_remove: list[tuple[int, int]] = []
  for r0, c0 in zip(*np.nonzero(deg == 1)):
    path = [(int(r0), int(c0))]
    prev: tuple[int, int] | None = None
    cur = path[0]
    length = 0.0
    junction: tuple[int, int] | None = None
    while length <= max_len:
      nbrs = [(a, b, L) for a, b, L in _neighbours(skel, *cur) if (a, b) != prev]
      if len(nbrs) != 1:
        break
      a, b, L = nbrs[0]
      length += L
      if deg[a, b] >= 3:
        junction = (a, b)
        break
      if deg[a, b] <= 1:  # reached another end point: isolated branch, keep
        break
      prev, cur = cur, (a, b)
      path.append(cur)
    if junction is not None and length < factor * dt[junction] + extra:
      to_remove.extend(path)
  for p in to_remove:
    skel[p] = False
  return skel


def march(
    inside: np.ndarray, rows: np.ndarray, cols: np.ndarray, dr: np.ndarray, dc: np.ndarray,
    max_dist: float, step: float = 0.25, refine: int = 4,
) -> np.ndarray:
  """Distance from points `(rows, cols)` along unit `(dr, dc)` to the first background pixel.

  Points are float `(row, col)` coordinates (pixel centres at integers).  A
  marched point belongs to its nearest pixel; a point exactly on a pixel border
  belongs to the pixel being entered (`floor(q + 0.5)` when moving in `+`,
  `ceil(q - 0.5)` when moving in `-`), so the result is symmetric in both
  directions.  Points outside the array are background.  Sampling every `step`
  px, then `refine` bisection steps (precision `step / 2**refine`); returns
  `max_dist` where no background is met before it.
  """
  h, w = inside.shape
  n_steps = int(math.ceil(max_dist / step))
  dist = np.full(rows.shape, float(max_dist))

  def is_bg(idx: np.ndarray, s: np.ndarray | float) -> np.ndarray:
    d_r, d_c = dr[idx], dc[idx]
    q_r, q_c = rows[idx] + s * d_r, cols[idx] + s * d_c
    rr = np.where(d_r < 0, np.ceil(q_r - 0.5), np.floor(q_r + 0.5)).astype(np.int64)
    cc = np.where(d_c < 0, np.ceil(q_c - 0.5), np.floor(q_c + 0.5)).astype(np.int64)
    ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    val = np.zeros(idx.shape, bool)
    val[ok] = inside[rr[ok], cc[ok]]
    return ~val

  todo = np.arange(rows.size)
  for j in range(1, n_steps + 1):
    if not todo.size:
      break
    s = j * step
    bg = is_bg(todo, s)
    dist[todo[bg]] = s
    todo = todo[~bg]
  # bisection between the last inside sample and the first background sample; returns the
  # upper end, so borders falling exactly on a sample (axis-aligned cracks) stay exact
  hit = np.ones(rows.shape, bool)
  hit[todo] = False
  idx = np.nonzero(hit)[0]
  lo, hi = dist[idx] - step, dist[idx]
  for _ in range(refine):
    mid = 0.5 * (lo + hi)
    bg = is_bg(idx, mid)
    hi = np.where(bg, mid, hi)
    lo = np.where(bg, lo, mid)
  dist[idx] = hi
  return dist


def chain_factor(theta: np.ndarray) -> np.ndarray:
  """Chain-code length per unit Euclidean length of a digital straight line at angle `theta`.

  `max(|cos|, |sin|) + (sqrt(2) - 1) * min(|cos|, |sin|)`: 1 at 0 / 45 / 90 deg,
  1.082 at 22.5 deg.
  """
  c, s = np.abs(np.cos(theta)), np.abs(np.sin(theta))
  return np.maximum(c, s) + (_SQRT2 - 1.0) * np.minimum(c, s)


def local_moments(
    skel_lab: np.ndarray, rows: np.ndarray, cols: np.ndarray, radius: int
) -> tuple[np.ndarray, ...]:
  """Second moments / centroid of same-label skeleton pixels in a disk around each point.

  Returns `(mxx, mxy, myy, sx, sy, count)` each `[n]` (offsets relative to the point;
  `x` = column, `y` = row).
  """
  pad = radius
  lab = np.pad(skel_lab, pad)
  own = skel_lab[rows, cols]
  z = np.zeros(rows.shape)
  mxx, mxy, myy, sx, sy, cnt = (z.copy() for _ in range(6))
  for oy in range(-radius, radius + 1):
    for ox in range(-radius, radius + 1):
      if (ox == 0 and oy == 0) or ox * ox + oy * oy > radius * radius:
        continue
      same = (lab[rows + pad + oy, cols + pad + ox] == own).astype(np.float64)
      mxx += same * ox * ox
      mxy += same * ox * oy
      myy += same * oy * oy
      sx += same * ox
      sy += same * oy
      cnt += same
  return mxx, mxy, myy, sx, sy, cnt


def segment_axes(skel_lab: np.ndarray, n_lab: int) -> np.ndarray:
  """Principal-axis angle (radians, from +x towards +y) of each label's skeleton pixels.

  Returns `[n_lab + 1]` float64 (index 0 unused); 0 for a single pixel.
  """
  rows, cols = np.nonzero(skel_lab)
  lab = skel_lab[rows, cols]
  n = np.bincount(lab, minlength=n_lab + 1).astype(float)
  nn = np.maximum(n, 1)
  mx = np.bincount(lab, weights=cols, minlength=n_lab + 1) / nn
  my = np.bincount(lab, weights=rows, minlength=n_lab + 1) / nn
  dx = cols - mx[lab]
  dy = rows - my[lab]
  sxx = np.bincount(lab, weights=dx * dx, minlength=n_lab + 1)
  sxy = np.bincount(lab, weights=dx * dy, minlength=n_lab + 1)
  syy = np.bincount(lab, weights=dy * dy, minlength=n_lab + 1)
  return 0.5 * np.arctan2(2 * sxy, sxx - syy)

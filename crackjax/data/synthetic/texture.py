"""Noise fields of the synthetic generator: smooth 1-D/2-D noise, cubic B-spline upsampling of
low-resolution grids, multi-octave asphalt texture (pure numpy/scipy, deterministic per generator).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


LOW_CELL = 4  # grid spacing (px) of the low-frequency field that is upsampled once


def smoothstep(x, lo, hi):
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def smooth1d(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """`[n]` stationary Gaussian-smoothed white noise with unit std.

    Drawn with a margin of 4 sigma on each side, so that short sequences have the same
    statistics as long ones (no boundary effects)."""
    pad = int(math.ceil(4 * sigma))
    white = rng.standard_normal(n + 2 * pad)
    sm = ndimage.gaussian_filter1d(white, sigma, mode="constant", truncate=4.0)
    return sm[pad : pad + n] * math.sqrt(2.0 * math.sqrt(math.pi) * sigma)


def _bspline_phase_weights(cell: int) -> np.ndarray:
    """Cubic B-spline weights `[4, cell]` of the 4 taps for each output phase."""
    t = (np.arange(cell, dtype=np.float64) + 0.5) / cell
    w = np.stack([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3]) / 6.0
    return w.astype(np.float32)


def upsample(low: np.ndarray, cell: int) -> np.ndarray:
    """Cubic B-spline upsampling by an integer factor (separable, gather-free).

    `low` is `[n + 3, m + 3]` (one node of padding before, two after); node `i`
    sits at output pixel coordinate `(i - 1) * cell - 0.5`.  Returns
    `[n * cell, m * cell]` float32.
    """
    low = np.asarray(low, dtype=np.float32)
    w = _bspline_phase_weights(cell)
    n, m = low.shape[0] - 3, low.shape[1] - 3
    rows = np.zeros((n, cell, m + 3), np.float32)
    for k in range(4):
        rows += low[k : k + n, None, :] * w[k][None, :, None]
    rows = rows.reshape(n * cell, m + 3)
    out = np.zeros((n * cell, m, cell), np.float32)
    for k in range(4):
        out += rows[:, k : k + m, None] * w[k][None, None, :]
    return out.reshape(n * cell, m * cell)


def upsample_to(low: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
    return upsample(low, cell)[:height, :width]


def grid_shape(height: int, width: int, cell: int) -> tuple[int, int]:
    return -(-height // cell) + 3, -(-width // cell) + 3


def grid_coords(height: int, width: int, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (y [gh, 1], x [1, gw]) of the nodes of an upsampling grid."""
    gh, gw = grid_shape(height, width, cell)
    gy = (np.arange(gh, dtype=np.float32) - 1) * cell - 0.5
    gx = (np.arange(gw, dtype=np.float32) - 1) * cell - 0.5
    return gy[:, None], gx[None, :]


def octave_noise(rng: np.random.Generator, height: int, width: int, cells: tuple[int, ...],
                  amps: tuple[float, ...], out_cell: int) -> np.ndarray:
    """Sum of B-spline noise octaves sampled on the grid of spacing `out_cell`.

    Each octave has unit-order std times `amps[i]`; `cells` must be multiples of
    `out_cell` by powers of small integers.  Returns the `grid_shape` array.
    """
    gh, gw = grid_shape(height, width, out_cell)
    acc = np.zeros((gh, gw), np.float32)
    for cell, amp in zip(cells, amps):
        f = cell // out_cell
        if f <= 1:
            acc += amp * rng.standard_normal((gh, gw), dtype=np.float32)
            continue
        lh, lw = grid_shape(gh * out_cell, gw * out_cell, cell)
        low = rng.standard_normal((lh + 1, lw + 1), dtype=np.float32) * (amp / 0.6)
        up = upsample(low, f)  # node offsets differ by < 1 cell: irrelevant for noise
        acc += up[:gh, :gw]
    return acc

"""Procedural synthetic road-crack images: the embedded default dataset of crackjax.

Every image is a pure function of ``(seed, index, spec)``; nothing is downloaded and
no global random state is touched.  :func:`generate` returns
``(image [H, W, 3] uint8, mask [H, W] uint8 in {0, 1})``; :func:`generate_layers`
returns the same draw plus one boolean ``[H, W]`` mask per distractor kind.

Image model
-----------
The picture imitates a downward-looking, vehicle-mounted survey camera at roughly
1 mm per pixel: the road runs along the image *height* (``y``), so transverse
structures are roughly horizontal and longitudinal ones roughly vertical.  Pixel
values are built in linear grey levels and composed as ::

    rgb = (asphalt_detail * tint  (+ worn paint, alpha-blended))
          * low_frequency_field   (texture octaves x illumination x shadows)
          * local_factors         (cracks x oil stains x joints)
          + sensor noise,  then clipped and quantised to uint8.

* **Asphalt** -- a per-image base grey level times ``detail``: fine grain
  (Gaussian-filtered white noise, sigma ~1 px), aggregate-sized blobs (sigma ~2 px)
  thresholded into bright stones, and rare, very dark pores (the "texture noise"
  that fools naive dark-pixel detectors).  Large-scale variation is three octaves of
  cubic B-spline noise (cells of 256, 64 and 16 px at 1024^2), applied
  multiplicatively together with a mild illumination gradient along the road and a
  vignetting fall-off across it.
* **Cracks** -- centre lines are random walks with a persistent heading: an AR(1)
  wander of the angle around a main direction plus per-step zig-zag jitter (cracks
  follow aggregate boundaries).  Kinds: transverse, longitudinal, random/diagonal
  (each with 0..3 thinner branches, sometimes sub-branches) and block/alligator
  networks (edges of a Voronoi tessellation drawn as jittered polylines, ordered
  from the patch centre outwards).  The width varies smoothly along each crack
  within ``spec.crack_width`` and tapers at the tips; it is rasterised by stamping
  digital disks of integer diameter ``w`` along a ~0.6 px-spaced centre line (even
  diameters are centred on a pixel corner).  The stamped pixels are *exactly* the
  mask.  In the image the crack darkens the surface multiplicatively with
  ``0.55 * depth + 0.7 * gaussian(depth, 0.8 px)``, which gives a darker core on
  wide cracks and a soft fringe of ~1 px outside the mask.
* **Crack amount** -- a target share ``U(crack_fraction)`` of the pixels is drawn
  and cracks are added until it is met; a crack that would overshoot is first
  shortened (so it still tapers) and then cut exactly at a stamp boundary.  The
  final crack share is within ~8 % of the target and always inside
  ``crack_fraction`` (whenever that interval contains a whole number of pixels).
* **Distractors** (``spec.distractors``; none of them is in the mask), each kind
  present with probability ~0.4-0.45 per image:

  - ``lane_marking``: bright white or yellow painted stripe, 100-160 px wide at
    1024^2 (longitudinal or transverse, sometimes a dash end), worn by
    thresholded noise so asphalt shows through;
  - ``shadow``: cast shadow of a vehicle/building (large polygon) or a pole band,
    very soft edges, darkening by 35-60 %;
  - ``oil_stain``: dark irregular blob(s) with noisy outline, a darker centre and
    satellite drips;
  - ``joint``: a long, straight, thin dark line across the image -- either a saw
    cut (2-4 px) or a sealed joint (5-14 px), with a slightly ragged edge.

  Cracks never enter oil stains or joints (they stop at them, with a 2-3 px
  margin); they may run through shadows and paint, as on real roads.  Joints and
  stains are dropped if they would block more than 35 % of a (small) image.

Determinism: ``np.random.SeedSequence([seed, index])`` is split into independent
child streams for texture, cracks, distractors and sensor noise, so e.g.
``distractors=False`` keeps the same texture, noise and crack stream (cracks can
only differ where a distractor would have stopped them).  Results are bit-exact for
a fixed platform and numpy/scipy version (no BLAS, no threads, no global state).

Speed: ~0.1-0.2 s per 1024x1024 image on one core; all per-pixel work is
vectorised numpy / scipy.ndimage, only crack centre lines use short Python loops.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage
from scipy.spatial import QhullError, Voronoi
from skimage.draw import polygon

__all__ = ["SyntheticSpec", "generate", "generate_layers", "DISTRACTOR_KINDS"]

#: Keys of the distractor layers returned by :func:`generate_layers`.
DISTRACTOR_KINDS: tuple[str, ...] = ("lane_marking", "shadow", "oil_stain", "joint")

_LOW_CELL = 4  # grid spacing (px) of the low-frequency field that is upsampled once


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of the synthetic generator.

    Attributes:
      height, width: image size in pixels (>= 16 each; non-square is fine).
      crack_fraction: ``(lo, hi)``; the share of crack pixels of each image is a
        target drawn uniformly in ``[lo, hi]`` and the result always lies in it.
      crack_width: ``(lo, hi)`` integer crack width in pixels (disk diameter), varying
        along each crack inside this range.
      distractors: draw lane markings / shadows / oil stains / joints.
    """

    height: int = 1024
    width: int = 1024
    crack_fraction: tuple[float, float] = (0.001, 0.005)
    crack_width: tuple[int, int] = (1, 5)
    distractors: bool = True

    def __post_init__(self):
        object.__setattr__(self, "crack_fraction", tuple(float(v) for v in self.crack_fraction))
        object.__setattr__(self, "crack_width", tuple(int(v) for v in self.crack_width))
        if int(self.height) < 16 or int(self.width) < 16:
            raise ValueError(f"image must be at least 16x16, got {self.height}x{self.width}")
        lo, hi = self.crack_fraction
        if len(self.crack_fraction) != 2 or not 0.0 <= lo <= hi <= 0.5:
            raise ValueError(f"crack_fraction must be (lo, hi) with 0 <= lo <= hi <= 0.5, got {self.crack_fraction}")
        wlo, whi = self.crack_width
        if len(self.crack_width) != 2 or not 1 <= wlo <= whi <= 31:
            raise ValueError(f"crack_width must be (lo, hi) with 1 <= lo <= hi <= 31, got {self.crack_width}")


def generate(seed: int, index: int, spec: SyntheticSpec = SyntheticSpec()) -> tuple[np.ndarray, np.ndarray]:
    """Draws one synthetic road image and its crack mask.

    Args:
      seed: non-negative dataset seed.
      index: non-negative image index within the dataset.
      spec: generator parameters.

    Returns:
      ``(image, mask)``: ``image`` is ``[H, W, 3] uint8`` RGB, ``mask`` is
      ``[H, W] uint8`` with values in ``{0, 1}`` (1 = crack pixel).  Deterministic in
      ``(seed, index, spec)``.
    """
    out = _render(seed, index, spec, want_layers=False)
    return out["image"], out["mask"]


def generate_layers(seed: int, index: int, spec: SyntheticSpec = SyntheticSpec()) -> dict[str, np.ndarray]:
    """Same draw as :func:`generate`, plus per-distractor masks.

    Returns:
      dict with ``'image'`` (``[H, W, 3] uint8``), ``'mask'`` (``[H, W] uint8``
      in {0, 1}) and, for every kind in :data:`DISTRACTOR_KINDS`
      (``'lane_marking'``, ``'shadow'``, ``'oil_stain'``, ``'joint'``), a boolean
      ``[H, W]`` mask of where that distractor is (all False when absent or when
      ``spec.distractors`` is False).  Masks mark the visually affected core:
      paint alpha > 0.5, shadow darkening > half its strength, stain alpha > 0.5,
      joint pixels inside its nominal width.
    """
    return _render(seed, index, spec, want_layers=True)


# ----------------------------------------------------------------------------------
# small numeric helpers
# ----------------------------------------------------------------------------------


def _smoothstep(x, lo, hi):
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _smooth1d(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """``[n]`` stationary Gaussian-smoothed white noise with unit std.

    Drawn with a margin of 4 sigma on each side, so that short sequences have the same
    statistics as long ones (no boundary effects)."""
    pad = int(math.ceil(4 * sigma))
    white = rng.standard_normal(n + 2 * pad)
    sm = ndimage.gaussian_filter1d(white, sigma, mode="constant", truncate=4.0)
    return sm[pad : pad + n] * math.sqrt(2.0 * math.sqrt(math.pi) * sigma)


def _bspline_phase_weights(cell: int) -> np.ndarray:
    """Cubic B-spline weights ``[4, cell]`` of the 4 taps for each output phase."""
    t = (np.arange(cell, dtype=np.float64) + 0.5) / cell
    w = np.stack([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3]) / 6.0
    return w.astype(np.float32)


def _upsample(low: np.ndarray, cell: int) -> np.ndarray:
    """Cubic B-spline upsampling by an integer factor (separable, gather-free).

    ``low`` is ``[n + 3, m + 3]`` (one node of padding before, two after); node ``i``
    sits at output pixel coordinate ``(i - 1) * cell - 0.5``.  Returns
    ``[n * cell, m * cell]`` float32.
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


def _upsample_to(low: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
    return _upsample(low, cell)[:height, :width]


def _grid_shape(height: int, width: int, cell: int) -> tuple[int, int]:
    return -(-height // cell) + 3, -(-width // cell) + 3


def _grid_coords(height: int, width: int, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (y [gh, 1], x [1, gw]) of the nodes of an upsampling grid."""
    gh, gw = _grid_shape(height, width, cell)
    gy = (np.arange(gh, dtype=np.float32) - 1) * cell - 0.5
    gx = (np.arange(gw, dtype=np.float32) - 1) * cell - 0.5
    return gy[:, None], gx[None, :]


def _octave_noise(rng: np.random.Generator, height: int, width: int, cells: tuple[int, ...],
                  amps: tuple[float, ...], out_cell: int) -> np.ndarray:
    """Sum of B-spline noise octaves sampled on the grid of spacing ``out_cell``.

    Each octave has unit-order std times ``amps[i]``; ``cells`` must be multiples of
    ``out_cell`` by powers of small integers.  Returns the ``_grid_shape`` array.
    """
    gh, gw = _grid_shape(height, width, out_cell)
    acc = np.zeros((gh, gw), np.float32)
    for cell, amp in zip(cells, amps):
        f = cell // out_cell
        if f <= 1:
            acc += amp * rng.standard_normal((gh, gw), dtype=np.float32)
            continue
        lh, lw = _grid_shape(gh * out_cell, gw * out_cell, cell)
        low = rng.standard_normal((lh + 1, lw + 1), dtype=np.float32) * (amp / 0.6)
        up = _upsample(low, f)  # node offsets differ by < 1 cell: irrelevant for noise
        acc += up[:gh, :gw]
    return acc


# ----------------------------------------------------------------------------------
# crack geometry
# ----------------------------------------------------------------------------------


def _disk_offsets(w: int) -> np.ndarray:
    """Integer offsets ``[K, 2]`` (dy, dx) of a digital disk of diameter ``w``.

    Odd ``w`` is centred on a pixel, even ``w`` on the corner at (+0.5, +0.5).
    """
    c = 0.0 if w % 2 else 0.5
    r = np.arange(-(w // 2) - 1, w // 2 + 2)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    inside = (dy - c) ** 2 + (dx - c) ** 2 <= (w / 2.0) ** 2 + 1e-9
    return np.stack([dy[inside], dx[inside]], axis=1).astype(np.intp)


_DISKS = {w: _disk_offsets(w) for w in range(1, 32)}


def _resample_polyline(pts: np.ndarray, spacing: float = 0.6) -> np.ndarray:
    """Resamples a polyline ``[n, 2]`` (y, x) to points at most ``spacing`` apart."""
    if len(pts) < 2:
        return pts.astype(np.float64)
    seg = np.diff(pts, axis=0)
    seglen = np.hypot(seg[:, 0], seg[:, 1])
    nsub = np.maximum(1, np.ceil(seglen / spacing).astype(np.intp))
    start = np.repeat(np.arange(len(seg)), nsub)
    offs = np.arange(nsub.sum()) - np.repeat(np.cumsum(nsub) - nsub, nsub)
    t = offs / np.repeat(nsub, nsub)
    out = pts[start] + seg[start] * t[:, None]
    return np.concatenate([out, pts[-1:]], axis=0)


def _random_walk(rng, start, heading, main_angle, length, step=3.0, persistence=0.96,
                 wander=0.07, jitter=0.30, pull=0.04) -> np.ndarray:
    """Centre line of a crack: random walk with a persistent, slowly wandering heading.

    The heading deviation from ``main_angle`` follows an AR(1) process (``persistence``,
    ``wander``) with a weak ``pull`` back to the main direction; every step adds an
    independent zig-zag ``jitter``.  Returns ``[n, 2]`` float (y, x) points.
    """
    n = max(2, int(length / step))
    eps = rng.standard_normal(n)
    zig = rng.standard_normal(n) * jitter
    dev = np.empty(n)
    d = math.remainder(heading - main_angle, 2 * math.pi)
    for k in range(n):
        d = persistence * d + wander * eps[k] - pull * d
        dev[k] = d
    ang = main_angle + dev + zig
    steps = step * np.stack([np.sin(ang), np.cos(ang)], axis=1)
    pts = np.concatenate([np.asarray(start, np.float64)[None], start + np.cumsum(steps, axis=0)], axis=0)
    return pts


def _jittered_edge(rng, p0, p1, rough=0.06, zig=0.6) -> np.ndarray:
    """A crack between two fixed points: straight line + Brownian-bridge wiggle."""
    d = p1 - p0
    length = float(np.hypot(*d))
    n = max(2, int(length / 2.5))
    t = np.linspace(0.0, 1.0, n + 1)
    walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n))])
    bridge = walk - t * walk[-1]
    bridge *= rough * length / max(1.0, np.abs(bridge).max())
    bridge += rng.standard_normal(n + 1) * zig
    bridge[0] = bridge[-1] = 0.0
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    return p0 + t[:, None] * d + bridge[:, None] * normal


def _width_profile(rng, npts: int, wlo: int, whi: int, base: float, taper: bool, var: float = 0.8) -> np.ndarray:
    """Integer crack width per centre-line point, smooth along the crack, in [wlo, whi]."""
    sig = max(2.0, min(40.0, npts / 6))
    slow = _smooth1d(rng, npts, sig)
    fast = _smooth1d(rng, npts, 2.0)  # ragged edges at the 1-2 px scale
    w = base + var * (whi - wlo + 1) * 0.3 * slow + 0.35 * fast
    if taper and npts > 4:
        s = np.arange(npts) / (npts - 1)
        lt = rng.uniform(0.08, 0.25)
        tp = np.clip(np.minimum(s, 1 - s) / lt, 0.0, 1.0) ** 0.7
        w = wlo + (w - wlo) * tp
    return np.clip(np.rint(w), wlo, whi).astype(np.intp)


def _base_width(rng, wlo: int, whi: int, top: float = 1.0) -> float:
    """Mean width of one crack: skewed towards thin cracks (mode ~ 1/3 of the range)."""
    return wlo - 0.49 + (whi - wlo + 0.98) * top * rng.beta(1.4, 2.0)


def _stamp(pts: np.ndarray, widths: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterises disks of diameter ``widths[i]`` at ``pts[i]``.

    Returns ``(flat, first)``: the unique flat pixel indices covered, ordered by the
    index ``first`` of the first centre-line point that covers them (ascending).
    """
    flats, idxs = [], []
    for w in np.unique(widths):
        sel = np.nonzero(widths == w)[0]
        c = np.floor(pts[sel]) if w % 2 == 0 else np.rint(pts[sel])
        c = c.astype(np.intp)
        off = _DISKS[int(w)]
        yy = c[:, 0:1] + off[None, :, 0]
        xx = c[:, 1:2] + off[None, :, 1]
        ok = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        flats.append((yy * width + xx)[ok])
        idxs.append(np.broadcast_to(sel[:, None], yy.shape)[ok])
    if not flats:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    flat = np.concatenate(flats)
    idx = np.concatenate(idxs)
    order = np.argsort(idx, kind="stable")
    flat, idx = flat[order], idx[order]
    uflat, first_pos = np.unique(flat, return_index=True)
    first = idx[first_pos]
    order = np.argsort(first, kind="stable")
    return uflat[order], first[order]


class _CrackCanvas:
    """Accumulates crack pixels under a pixel budget."""

    def __init__(self, rng, height, width, spec: SyntheticSpec, forbidden: np.ndarray):
        self.rng = rng
        self.h, self.w = height, width
        self.wlo, self.whi = spec.crack_width
        n = height * width
        lo, hi = spec.crack_fraction
        self.lo_px = int(math.ceil(lo * n - 1e-9))
        self.hi_px = int(math.floor(hi * n + 1e-9))
        if self.lo_px > self.hi_px:  # interval holds no whole pixel count
            self.lo_px = self.hi_px = int(round(0.5 * (lo + hi) * n))
        target = int(round(rng.uniform(lo, hi) * n))
        self.target = int(np.clip(target, self.lo_px, self.hi_px))
        self.accept_hi = min(self.hi_px, int(self.target * 1.08) + 2)
        self.stop_lo = max(self.lo_px, min(self.target, int(self.target * 0.92)))
        self.mask = np.zeros(n, bool)
        self.depth = np.zeros(n, np.float32)
        self.forbidden = forbidden
        self.count = 0

    @property
    def done(self) -> bool:
        return self.count >= self.stop_lo

    def allowed(self, p) -> bool:
        y, x = int(round(p[0])), int(round(p[1]))
        if not (0 <= y < self.h and 0 <= x < self.w):
            return False
        return not self.forbidden[y * self.w + x]

    def add(self, centre: np.ndarray, base_w: float, depth: float, taper: bool = True,
            var: float = 0.8) -> np.ndarray | None:
        """Adds one crack centre line; returns the resampled part actually used."""
        if self.done:
            return None
        pts = _resample_polyline(centre)
        rng = self.rng
        widths = _width_profile(rng, len(pts), self.wlo, self.whi, base_w, taper, var)
        flat, first = self._new_pixels(pts, widths)
        need = self.target - self.count
        if len(flat) == 0:
            return None
        if self.count + len(flat) > self.accept_hi and taper:
            # shorten so that the crack still tapers, then redraw the width profile
            k = int(first[min(need, len(first)) - 1])
            k = min(len(pts), k + 2 + int(0.03 * k))
            pts = pts[:k]
            widths = _width_profile(rng, len(pts), self.wlo, self.whi, base_w, taper, var)
            flat, first = self._new_pixels(pts, widths)
            if len(flat) == 0:
                return None
        if self.count + len(flat) > self.accept_hi:
            flat, first = self._cut(flat, first, need)
        last = int(first[-1]) if len(first) else 0
        self.mask[flat] = True
        along = np.clip(0.12 * _smooth1d(rng, len(pts), 25.0), -0.3, 0.3)
        dp = depth * (0.72 + 0.28 * (widths - self.wlo + 1) / (self.whi - self.wlo + 1)) * (1.0 + along)
        self.depth[flat] = dp[first].astype(np.float32)
        self.count += len(flat)
        return pts[: last + 1]

    def _new_pixels(self, pts, widths):
        flat, first = _stamp(pts, widths, self.h, self.w)
        keep = ~self.mask[flat] & ~self.forbidden[flat]
        return flat[keep], first[keep]

    def _cut(self, flat, first, need):
        """Keeps a prefix of the new pixels ending on a stamp boundary near ``need``."""
        need = max(1, min(need, len(flat)))
        key = first[need - 1]
        right = int(np.searchsorted(first, key, side="right"))
        left = int(np.searchsorted(first, key, side="left"))
        if self.count + right <= self.hi_px and (self.count + right <= self.accept_hi or self.count + left < self.lo_px):
            m = right
        elif self.count + left >= self.lo_px:
            m = left
        else:
            m = need  # last resort: cut inside one stamp (exact count)
        return flat[:m], first[:m]


def _draw_cracks(rng: np.random.Generator, spec: SyntheticSpec, forbidden: np.ndarray) -> _CrackCanvas:
    h, w = spec.height, spec.width
    cv = _CrackCanvas(rng, h, w, spec, forbidden)
    if cv.target == 0:
        return cv
    wlo, whi = spec.crack_width
    kinds = ("transverse", "longitudinal", "random", "alligator", "block")
    probs = np.array([0.3, 0.3, 0.12, 0.16, 0.12])
    for attempt in range(400):
        if cv.done:
            break
        kind = kinds[rng.choice(len(kinds), p=probs)] if attempt < 300 else "random"
        depth = rng.uniform(0.5, 0.8)
        if kind in ("alligator", "block"):
            _network(rng, cv, kind, depth)
            continue
        # start point outside forbidden zones
        for _ in range(20):
            if kind == "transverse":
                main = 0.0 if rng.random() < 0.5 else math.pi
                x0 = rng.uniform(-0.05, 0.35) * w
                start = np.array([rng.uniform(0.03, 0.97) * h, x0 if main == 0.0 else w - 1 - x0])
                length = rng.uniform(0.4, 1.2) * w
            elif kind == "longitudinal":
                main = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
                y0 = rng.uniform(-0.05, 0.35) * h
                start = np.array([y0 if main > 0 else h - 1 - y0, rng.uniform(0.03, 0.97) * w])
                length = rng.uniform(0.4, 1.2) * h
            else:
                main = rng.uniform(-math.pi, math.pi)
                start = np.array([rng.uniform(0.05, 0.95) * h, rng.uniform(0.05, 0.95) * w])
                length = rng.uniform(0.15, 0.6) * min(h, w)
            if cv.allowed(np.clip(start, 0, [h - 1, w - 1])):
                break
        heading = main + rng.normal(0, 0.25)
        centre = _random_walk(rng, start, heading, main, length)
        base_w = _base_width(rng, wlo, whi)
        used = cv.add(centre, base_w, depth)
        if used is None or len(used) < 20:
            continue
        _branches(rng, cv, used, base_w, depth, level=0)
    return cv


def _branches(rng, cv: _CrackCanvas, parent: np.ndarray, parent_w: float, depth: float, level: int):
    npts = len(parent)
    plen = npts * 0.6
    nb = rng.poisson(0.4 + min(2.0, plen / 300.0)) if level == 0 else int(rng.random() < 0.35)
    for _ in range(nb):
        if cv.done:
            return
        i = int(rng.integers(int(0.1 * npts), max(int(0.1 * npts) + 1, int(0.9 * npts))))
        j = min(npts - 1, i + 5)
        tang = math.atan2(parent[j, 0] - parent[max(0, i - 5), 0], parent[j, 1] - parent[max(0, i - 5), 1])
        ang = tang + rng.choice([-1.0, 1.0]) * rng.uniform(0.45, 1.25)
        length = rng.uniform(0.1, 0.45) * plen
        centre = _random_walk(rng, parent[i], ang, ang, length, wander=0.08, pull=0.02)
        bw = cv.wlo + (parent_w - cv.wlo) * rng.uniform(0.4, 0.9)
        # branches start at full parent contact: no taper at the root, taper at the tip
        used = cv.add(centre, bw, depth * rng.uniform(0.8, 1.0))
        if used is not None and level == 0 and len(used) > 30:
            _branches(rng, cv, used, bw, depth, level + 1)


def _network(rng, cv: _CrackCanvas, kind: str, depth: float):
    """Block (large, rectangular-ish cells) or alligator (small cells) crack patch."""
    h, w = cv.h, cv.w
    s = min(h, w)
    if kind == "alligator":
        cell = rng.uniform(25, 55) * min(1.0, max(0.35, s / 1024))
        radius = rng.uniform(0.12, 0.3) * s
    else:
        cell = rng.uniform(90, 200) * min(1.0, max(0.3, s / 1024))
        radius = rng.uniform(0.25, 0.5) * s
    for _ in range(20):
        c = np.array([rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w])
        if cv.allowed(c):
            break
    ext = radius + 2 * cell
    if kind == "alligator":
        nseed = max(6, int((2 * ext) ** 2 / cell**2))
        seeds = c + rng.uniform(-ext, ext, size=(nseed, 2))
    else:
        g = np.arange(-ext, ext + cell, cell)
        gy, gx = np.meshgrid(g, g, indexing="ij")
        seeds = c + np.stack([gy.ravel(), gx.ravel()], 1) + rng.uniform(-0.3, 0.3, (gy.size, 2)) * cell
    aspect = rng.uniform(0.6, 1.4)
    try:
        vor = Voronoi(seeds)
    except QhullError:  # degenerate seed set (practically impossible); skip the patch
        return
    edges = []
    for a, b in vor.ridge_vertices:
        if a < 0 or b < 0:
            continue
        p0, p1 = vor.vertices[a], vor.vertices[b]
        mid = 0.5 * (p0 + p1) - c
        r = math.hypot(mid[0] / aspect, mid[1] * aspect) / radius
        if r < 1.0:
            edges.append((r + 0.15 * rng.random(), p0, p1))
    edges.sort(key=lambda e: e[0])
    wlo, whi = cv.wlo, cv.whi
    for _, p0, p1 in edges:
        if cv.done:
            return
        centre = _jittered_edge(rng, p0, p1, rough=0.05 if kind == "block" else 0.08)
        bw = _base_width(rng, wlo, whi, 0.6 if kind == "alligator" else 0.85)
        cv.add(centre, bw, depth * rng.uniform(0.85, 1.0), taper=False, var=0.4)


# ----------------------------------------------------------------------------------
# distractors
# ----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Distractors:
    lowfield: np.ndarray | None = None  # multiplicative shadow factor on the low grid
    shadow_alpha_low: np.ndarray | None = None  # shadow alpha on the low grid
    paint: list = dataclasses.field(default_factory=list)  # (y0, y1, x0, x1, alpha, rgb [3])
    local: list = dataclasses.field(default_factory=list)  # (kind, y0, y1, x0, x1, factor, layer)
    forbidden: np.ndarray | None = None  # flat bool, cracks may not go here


def _line_band(height, width, point, angle, half_width, margin):
    """Axis-aligned bbox of a straight band ``|dist to line| <= half_width + margin``
    through ``point`` at ``angle`` (radians, x-axis = 0), plus signed distance/abscissa
    on that bbox.  Returns None when the band misses the image."""
    ny, nx = math.cos(angle), -math.sin(angle)  # unit normal (y, x)
    ty, tx = math.sin(angle), math.cos(angle)
    r = half_width + margin
    if abs(ty) > abs(tx):  # mostly vertical line: x range from y extent
        xs = [point[1] + (yy - point[0]) * tx / ty for yy in (0, height)]
        ext = r / abs(ty)
        x0, x1 = int(math.floor(min(xs) - ext)), int(math.ceil(max(xs) + ext)) + 1
        y0, y1 = 0, height
    else:
        ys = [point[0] + (xx - point[1]) * ty / tx for xx in (0, width)]
        ext = r / abs(tx)
        y0, y1 = int(math.floor(min(ys) - ext)), int(math.ceil(max(ys) + ext)) + 1
        x0, x1 = 0, width
    y0, y1, x0, x1 = max(0, y0), min(height, y1), max(0, x0), min(width, x1)
    if y0 >= y1 or x0 >= x1:
        return None
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] - point[0]
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] - point[1]
    dist = yy * ny + xx * nx
    along = yy * ty + xx * tx
    return (y0, y1, x0, x1), dist, along


_MAX_FORBIDDEN = 0.35  # joints + stains may block at most this share of the image for cracks


def _reserve(forb2d: np.ndarray, box, patch: np.ndarray) -> bool:
    """Marks ``patch`` (bool, on ``box``) as off-limits for cracks, unless that would
    block more than ``_MAX_FORBIDDEN`` of the image (then nothing is changed)."""
    y0, y1, x0, x1 = box
    sub = forb2d[y0:y1, x0:x1]
    added = int(np.count_nonzero(patch & ~sub))
    if np.count_nonzero(forb2d) + added > _MAX_FORBIDDEN * forb2d.size:
        return False
    sub |= patch
    return True


def _crop_noise(rng, shape, cell):
    """Smooth noise of unit-order std on a crop of ``shape`` with feature size ``cell``."""
    cell = max(2, int(cell))
    gh, gw = _grid_shape(shape[0], shape[1], cell)
    return _upsample(rng.standard_normal((gh, gw), dtype=np.float32) / 0.6, cell)[: shape[0], : shape[1]]


def _draw_distractors(rng, spec: SyntheticSpec) -> _Distractors:
    h, w = spec.height, spec.width
    s = min(h, w)
    g = min(1.0, max(0.2, s / 1024))  # size scale for large objects on small crops
    out = _Distractors(forbidden=np.zeros(h * w, bool))
    forb2d = out.forbidden.reshape(h, w)
    present = {
        "lane_marking": rng.random() < 0.4,
        "shadow": rng.random() < 0.45,
        "oil_stain": rng.random() < 0.4,
        "joint": rng.random() < 0.4,
    }

    if present["shadow"]:
        gy, gx = _grid_coords(h, w, _LOW_CELL)
        alpha = np.zeros((gy.shape[0], gx.shape[1]), np.float32)
        if rng.random() < 0.55:  # cast shadow of a vehicle / building: polygon entering from a side
            side = rng.integers(4)
            depth = rng.uniform(0.3, 0.85)
            n = int(rng.integers(4, 8))
            t = np.sort(rng.uniform(-0.2, 1.2, n))
            d = rng.uniform(0.3, 1.0, n) * depth
            d = ndimage.gaussian_filter1d(d, 1.0, mode="nearest")
            along = t * (w if side in (0, 1) else h)
            # polygon in (y, x) pixel coordinates, closed along the chosen border
            if side == 0:  # top
                poly = np.c_[np.r_[-10, d * h, -10], np.r_[along[0], along, along[-1]]]
            elif side == 1:  # bottom
                poly = np.c_[np.r_[h + 10, h - d * h, h + 10], np.r_[along[0], along, along[-1]]]
            elif side == 2:  # left
                poly = np.c_[np.r_[along[0], along, along[-1]], np.r_[-10, d * w, -10]]
            else:
                poly = np.c_[np.r_[along[0], along, along[-1]], np.r_[w + 10, w - d * w, w + 10]]
            py = (poly[:, 0] + 0.5) / _LOW_CELL + 1
            px = (poly[:, 1] + 0.5) / _LOW_CELL + 1
            rr, cc = polygon(py, px, shape=alpha.shape)
            alpha[rr, cc] = 1.0
        else:  # pole / sign / tree-trunk shadow: a long soft band
            ang = rng.uniform(-math.pi, math.pi)
            hw = rng.uniform(12, 45) * g
            p = np.array([rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w])
            dist = (gy - p[0]) * math.cos(ang) - (gx - p[1]) * math.sin(ang)
            alpha = (np.abs(dist) <= hw).astype(np.float32)
            if rng.random() < 0.5:  # the pole's end (head of the shadow)
                along = (gy - p[0]) * math.sin(ang) + (gx - p[1]) * math.cos(ang)
                alpha *= along < rng.uniform(0, 0.3) * s
        soft = rng.uniform(3, 14) * g / _LOW_CELL
        alpha = ndimage.gaussian_filter(alpha, max(0.7, soft), mode="nearest")
        strength = rng.uniform(0.35, 0.6)
        out.lowfield = 1.0 - strength * alpha
        out.shadow_alpha_low = alpha

    if present["joint"]:
        njoint = 1 + int(rng.random() < 0.2)
        for _ in range(njoint):
            longitudinal = rng.random() < 0.45
            ang = (math.pi / 2 if longitudinal else 0.0) + rng.normal(0, 0.025)
            p = np.array([rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w])
            if rng.random() < 0.5:  # saw cut
                hw = rng.uniform(1.0, 2.0)
                dark = rng.uniform(0.4, 0.65)
            else:  # sealed joint
                hw = rng.uniform(2.5, 7.0)
                dark = rng.uniform(0.5, 0.75)
            band = _line_band(h, w, p, ang, hw, 6.0)
            if band is None:
                continue
            (y0, y1, x0, x1), dist, along = band
            # ragged edge: smooth 1-D noise along the joint
            a_idx = np.clip(np.rint(along - along.min()).astype(np.intp), 0, None)
            rough = 0.35 * _smooth1d(rng, int(a_idx.max()) + 1, 6.0)
            ad = np.abs(dist) - rough[a_idx].astype(np.float32) * min(1.0, hw / 2)
            if not _reserve(forb2d, (y0, y1, x0, x1), ad <= hw + 3.0):
                continue
            core = ad <= hw
            fac = 1.0 - dark * (0.85 + 0.15 * _smoothstep(-ad, -hw, 0.0)) * _smoothstep(-ad, -hw - 1.0, -hw + 0.6)
            out.local.append(("joint", y0, y1, x0, x1, fac.astype(np.float32), core))

    if present["oil_stain"]:
        nstain = 1 + int(rng.random() < 0.35)
        for _ in range(nstain):
            r = rng.uniform(25, 110) * g
            c = np.array([rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w])
            blobs = [(c, r, rng.uniform(0.6, 1.0))]
            for _ in range(int(rng.integers(0, 5))):  # satellite drips
                off = rng.normal(0, 1.0, 2) * r * 1.1
                blobs.append((c + off, r * rng.uniform(0.1, 0.3), rng.uniform(0.5, 1.0)))
            ext = max(b[1] for b in blobs) * 1.6 + max(np.abs(b[0] - c).max() for b in blobs) + 8
            y0, y1 = max(0, int(c[0] - ext)), min(h, int(c[0] + ext) + 1)
            x0, x1 = max(0, int(c[1] - ext)), min(w, int(c[1] + ext) + 1)
            if y0 >= y1 or x0 >= x1:
                continue
            yy = np.arange(y0, y1, dtype=np.float32)[:, None]
            xx = np.arange(x0, x1, dtype=np.float32)[None, :]
            shape = (y1 - y0, x1 - x0)
            edge_noise = _crop_noise(rng, shape, max(4, r / 3))
            fine_noise = _crop_noise(rng, shape, max(2, r / 10))
            inside = np.zeros(shape, np.float32)
            centre_w = np.zeros(shape, np.float32)
            for bc, br, _ in blobs:
                th = rng.uniform(0, math.pi)
                ax = rng.uniform(0.6, 1.0)
                dy, dx = yy - bc[0], xx - bc[1]
                u = (dy * math.cos(th) + dx * math.sin(th)) / (br * ax)
                v = (-dy * math.sin(th) + dx * math.cos(th)) / br
                d = np.sqrt(u * u + v * v)
                np.maximum(inside, (d < 1.0 + 0.3 * edge_noise + 0.08 * fine_noise).astype(np.float32), out=inside)
                np.maximum(centre_w, np.clip(1.0 - d, 0.0, 1.0), out=centre_w)
            alpha = ndimage.gaussian_filter(inside, rng.uniform(1.0, 3.5))
            if not _reserve(forb2d, (y0, y1, x0, x1), ndimage.binary_dilation(alpha > 0.05, iterations=2)):
                continue
            dark = rng.uniform(0.35, 0.6)
            strength = dark * alpha * (0.75 + 0.35 * centre_w + 0.08 * fine_noise)
            fac = (1.0 - np.clip(strength, 0.0, 0.9)).astype(np.float32)
            out.local.append(("oil_stain", y0, y1, x0, x1, fac, alpha > 0.5))

    if present["lane_marking"]:
        longitudinal = rng.random() < 0.7
        ang = (math.pi / 2 if longitudinal else 0.0) + rng.normal(0, 0.03)
        hw = rng.uniform(50, 80) * g
        # centre so that the stripe is at least partly visible
        p = np.array([rng.uniform(0.0, 1.0) * h, rng.uniform(0.0, 1.0) * w])
        band = _line_band(h, w, p, ang, hw, 2.0)
        if band is not None:
            (y0, y1, x0, x1), dist, along = band
            edge = _smoothstep(hw + 0.8 - np.abs(dist), 0.0, 1.6)
            if rng.random() < 0.4:  # a dash end is visible
                end = rng.uniform(-0.4, 0.4) * s
                sgn = rng.choice([-1.0, 1.0])
                edge = edge * _smoothstep(sgn * (along - end), 0.0, 1.6)
            shape = edge.shape
            wear = 0.75 * _crop_noise(rng, shape, 24) + 0.45 * _crop_noise(rng, shape, 6)
            worn = rng.uniform(-1.6, 0.4)  # higher = more worn patches
            fade = rng.uniform(0.55, 1.0)  # overall fading of old paint
            alpha = edge * _smoothstep(wear - worn, -0.3, 0.3) * fade
            if rng.random() < 0.7:
                rgb = np.array([236, 236, 230], np.float32) * rng.uniform(0.85, 1.0)
            else:
                rgb = np.array([226, 186, 58], np.float32) * rng.uniform(0.85, 1.0)
            chips = float(np.clip(rng.uniform(0.1, 0.5) + 0.3 * (worn + 0.6), 0.05, 0.9))  # lost on stone tops
            out.paint.append((y0, y1, x0, x1, alpha.astype(np.float32), rgb, chips))
    return out


# ----------------------------------------------------------------------------------
# composition
# ----------------------------------------------------------------------------------


def _render(seed: int, index: int, spec: SyntheticSpec, want_layers: bool) -> dict[str, np.ndarray]:
    if not isinstance(spec, SyntheticSpec):
        raise TypeError(f"spec must be a SyntheticSpec, got {type(spec).__name__}")
    h, w = int(spec.height), int(spec.width)
    ss = np.random.SeedSequence([int(seed), int(index)])
    r_tex, r_crack, r_dist, r_noise = (np.random.default_rng(c) for c in ss.spawn(4))

    # --- distractor geometry (needed first: cracks avoid joints / stains) -----------
    dist = _draw_distractors(r_dist, spec) if spec.distractors else _Distractors(forbidden=np.zeros(h * w, bool))

    # --- asphalt texture --------------------------------------------------------------
    base = r_tex.uniform(95.0, 150.0)
    tint = np.array([1.0, 1.0, 1.0], np.float32) + r_tex.normal(0, 0.025, 3).astype(np.float32)
    tint /= tint.mean()
    # low-frequency multiplicative field on a 4-px grid: octaves x illumination x shadow
    low = _octave_noise(r_tex, h, w, (256, 64, 16), (0.05, 0.045, 0.035), _LOW_CELL)
    gy, gx = _grid_coords(h, w, _LOW_CELL)
    grad = r_tex.uniform(-0.18, 0.18)
    vign = r_tex.uniform(0.0, 0.18)
    xc = r_tex.uniform(0.35, 0.65)
    illum = (1.0 + grad * (gy / h - 0.5)) * (1.0 - vign * ((gx / w - xc) * 2.0) ** 2)
    lowfield = np.exp(low) * illum
    if dist.lowfield is not None:
        lowfield = lowfield * dist.lowfield
    L = _upsample_to(lowfield, _LOW_CELL, h, w)

    # fine detail: grain, aggregate stones, dark pores
    n1 = ndimage.gaussian_filter(r_tex.standard_normal((h, w), dtype=np.float32), 0.9, truncate=3.0)
    n1 *= 1.0 / 0.31  # std of sigma-0.9 filtered white noise ~ 1/(2 sqrt(pi) 0.9)
    n2 = ndimage.gaussian_filter(r_tex.standard_normal((h, w), dtype=np.float32), 2.0, truncate=3.0)
    n2 *= 1.0 / 0.141
    stone_gain = r_tex.uniform(0.12, 0.22)
    pore_gain = r_tex.uniform(0.35, 0.55)
    detail = 1.0 + 0.07 * n1
    detail += 0.04 * n2
    detail += stone_gain * _smoothstep(n2, 0.6, 1.4) * (1.0 + 0.3 * n1)  # light stones
    detail -= 0.45 * stone_gain * _smoothstep(n2, -0.9, -1.7)  # darker stones / binder
    detail -= pore_gain * _smoothstep(-n1 - 0.35 * n2, 2.1, 3.0)
    gray = (base * detail).astype(np.float32)

    # --- cracks -------------------------------------------------------------------------
    cv = _draw_cracks(r_crack, spec, dist.forbidden)
    mask = cv.mask.reshape(h, w)

    # local multiplicative factors (cracks, joints, stains) folded into L
    if cv.count:
        dep = cv.depth.reshape(h, w)
        ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        y0, y1 = max(0, ys[0] - 4), min(h, ys[-1] + 5)
        x0, x1 = max(0, xs[0] - 4), min(w, xs[-1] + 5)
        d = dep[y0:y1, x0:x1]
        dark = 0.55 * d + 0.7 * ndimage.gaussian_filter(d, 0.8, truncate=3.0)
        L[y0:y1, x0:x1] *= 1.0 - np.minimum(dark, 0.9)
    for _, y0, y1, x0, x1, fac, _ in dist.local:
        L[y0:y1, x0:x1] *= fac

    # --- compose RGB -----------------------------------------------------------------
    rgb = gray[:, :, None] * tint
    for i, (y0, y1, x0, x1, alpha, pcol, chips) in enumerate(dist.paint):
        shade = (0.9 + 0.1 * np.clip(detail[y0:y1, x0:x1], 0.5, 1.5))[:, :, None]
        alpha = alpha * (1.0 - chips * _smoothstep(n2[y0:y1, x0:x1], 0.1, 0.9))
        dist.paint[i] = (y0, y1, x0, x1, alpha, pcol, chips)
        a = alpha[:, :, None]
        rgb[y0:y1, x0:x1] = rgb[y0:y1, x0:x1] * (1.0 - a) + a * pcol * shade
    rgb *= L[:, :, None]
    rgb += r_noise.standard_normal((h, w), dtype=np.float32)[:, :, None] * 2.5
    np.clip(rgb, 0.0, 255.0, out=rgb)
    image = (rgb + 0.5).astype(np.uint8)

    out = {"image": image, "mask": mask.astype(np.uint8)}
    if want_layers:
        for k in DISTRACTOR_KINDS:
            out[k] = np.zeros((h, w), bool)
        if dist.shadow_alpha_low is not None:
            out["shadow"] = _upsample_to(dist.shadow_alpha_low, _LOW_CELL, h, w) > 0.5
        for kind, y0, y1, x0, x1, _, layer in dist.local:
            out[kind][y0:y1, x0:x1] |= layer
        for y0, y1, x0, x1, alpha, _, _ in dist.paint:
            out["lane_marking"][y0:y1, x0:x1] |= alpha > 0.5
    return out

"""Crack geometry of the synthetic generator: persistent random-walk centre lines with branches,
block/alligator networks, width profiles, and rasterisation by stamping digital disks (the stamped
pixels are exactly the mask).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import QhullError
from scipy.spatial import Voronoi

from crackjax.data.synthetic import texture
from crackjax.data.synthetic.spec import SyntheticSpec


def _disk_offsets(w: int) -> np.ndarray:
    """Integer offsets `[K, 2]` (dy, dx) of a digital disk of diameter `w`.

    Odd `w` is centred on a pixel, even `w` on the corner at (+0.5, +0.5).
    """
    c = 0.0 if w % 2 else 0.5
    r = np.arange(-(w // 2) - 1, w // 2 + 2)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    inside = (dy - c) ** 2 + (dx - c) ** 2 <= (w / 2.0) ** 2 + 1e-9
    return np.stack([dy[inside], dx[inside]], axis=1).astype(np.intp)


_DISKS = {w: _disk_offsets(w) for w in range(1, 32)}


def _resample_polyline(pts: np.ndarray, spacing: float = 0.6) -> np.ndarray:
    """Resamples a polyline `[n, 2]` (y, x) to points at most `spacing` apart."""
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

    The heading deviation from `main_angle` follows an AR(1) process (`persistence`,
    `wander`) with a weak `pull` back to the main direction; every step adds an
    independent zig-zag `jitter`.  Returns `[n, 2]` float (y, x) points.
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
    slow = texture.smooth1d(rng, npts, sig)
    fast = texture.smooth1d(rng, npts, 2.0)  # ragged edges at the 1-2 px scale
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
    """Rasterises disks of diameter `widths[i]` at `pts[i]`.

    Returns `(flat, first)`: the unique flat pixel indices covered, ordered by the
    index `first` of the first centre-line point that covers them (ascending).
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
        along = np.clip(0.12 * texture.smooth1d(rng, len(pts), 25.0), -0.3, 0.3)
        dp = depth * (0.72 + 0.28 * (widths - self.wlo + 1) / (self.whi - self.wlo + 1)) * (1.0 + along)
        self.depth[flat] = dp[first].astype(np.float32)
        self.count += len(flat)
        return pts[: last + 1]

    def _new_pixels(self, pts, widths):
        flat, first = _stamp(pts, widths, self.h, self.w)
        keep = ~self.mask[flat] & ~self.forbidden[flat]
        return flat[keep], first[keep]

    def _cut(self, flat, first, need):
        """Keeps a prefix of the new pixels ending on a stamp boundary near `need`."""
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


def draw_cracks(rng: np.random.Generator, spec: SyntheticSpec, forbidden: np.ndarray) -> _CrackCanvas:
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

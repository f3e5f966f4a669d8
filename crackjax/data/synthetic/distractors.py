"""Distractors of the synthetic generator (none of them is in the mask): lane markings, shadows,
oil stains and joints, and the area they forbid to cracks.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage
from skimage.draw import polygon

from crackjax.data.synthetic import texture
from crackjax.data.synthetic.spec import SyntheticSpec


@dataclasses.dataclass
class Distractors:
    lowfield: np.ndarray | None = None  # multiplicative shadow factor on the low grid
    shadow_alpha_low: np.ndarray | None = None  # shadow alpha on the low grid
    paint: list = dataclasses.field(default_factory=list)  # (y0, y1, x0, x1, alpha, rgb [3])
    local: list = dataclasses.field(default_factory=list)  # (kind, y0, y1, x0, x1, factor, layer)
    forbidden: np.ndarray | None = None  # flat bool, cracks may not go here


def _line_band(height, width, point, angle, half_width, margin):
    """Axis-aligned bbox of a straight band `|dist to line| <= half_width + margin`
    through `point` at `angle` (radians, x-axis = 0), plus signed distance/abscissa
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
    """Marks `patch` (bool, on `box`) as off-limits for cracks, unless that would
    block more than `_MAX_FORBIDDEN` of the image (then nothing is changed)."""
    y0, y1, x0, x1 = box
    sub = forb2d[y0:y1, x0:x1]
    added = int(np.count_nonzero(patch & ~sub))
    if np.count_nonzero(forb2d) + added > _MAX_FORBIDDEN * forb2d.size:
        return False
    sub |= patch
    return True


def _crop_noise(rng, shape, cell):
    """Smooth noise of unit-order std on a crop of `shape` with feature size `cell`."""
    cell = max(2, int(cell))
    gh, gw = texture.grid_shape(shape[0], shape[1], cell)
    return texture.upsample(rng.standard_normal((gh, gw), dtype=np.float32) / 0.6, cell)[: shape[0], : shape[1]]


# Chance that an image holds each kind, drawn in this order first from the image's distractor stream.
PRESENCE_PROBABILITY = {"lane_marking": 0.4, "shadow": 0.45, "oil_stain": 0.4, "joint": 0.4}


def draw_presence(rng) -> dict[str, bool]:
    """Which distractor kinds an image holds: the first draws of its distractor stream."""
    return {kind: bool(rng.random() < p) for kind, p in PRESENCE_PROBABILITY.items()}


def draw_distractors(rng, spec: SyntheticSpec) -> Distractors:
    h, w = spec.height, spec.width
    s = min(h, w)
    g = min(1.0, max(0.2, s / 1024))  # size scale for large objects on small crops
    out = Distractors(forbidden=np.zeros(h * w, bool))
    forb2d = out.forbidden.reshape(h, w)
    present = draw_presence(rng)

    if present["shadow"]:
        gy, gx = texture.grid_coords(h, w, texture.LOW_CELL)
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
            py = (poly[:, 0] + 0.5) / texture.LOW_CELL + 1
            px = (poly[:, 1] + 0.5) / texture.LOW_CELL + 1
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
        soft = rng.uniform(3, 14) * g / texture.LOW_CELL
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
            rough = 0.35 * texture.smooth1d(rng, int(a_idx.max()) + 1, 6.0)
            ad = np.abs(dist) - rough[a_idx].astype(np.float32) * min(1.0, hw / 2)
            if not _reserve(forb2d, (y0, y1, x0, x1), ad <= hw + 3.0):
                continue
            core = ad <= hw
            fac = 1.0 - dark * (0.85 + 0.15 * texture.smoothstep(-ad, -hw, 0.0)) * texture.smoothstep(-ad, -hw - 1.0, -hw + 0.6)
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
            edge = texture.smoothstep(hw + 0.8 - np.abs(dist), 0.0, 1.6)
            if rng.random() < 0.4:  # a dash end is visible
                end = rng.uniform(-0.4, 0.4) * s
                sgn = rng.choice([-1.0, 1.0])
                edge = edge * texture.smoothstep(sgn * (along - end), 0.0, 1.6)
            shape = edge.shape
            wear = 0.75 * _crop_noise(rng, shape, 24) + 0.45 * _crop_noise(rng, shape, 6)
            worn = rng.uniform(-1.6, 0.4)  # higher = more worn patches
            fade = rng.uniform(0.55, 1.0)  # overall fading of old paint
            alpha = edge * texture.smoothstep(wear - worn, -0.3, 0.3) * fade
            if rng.random() < 0.7:
                rgb = np.array([236, 236, 230], np.float32) * rng.uniform(0.85, 1.0)
            else:
                rgb = np.array([226, 186, 58], np.float32) * rng.uniform(0.85, 1.0)
            chips = float(np.clip(rng.uniform(0.1, 0.5) + 0.3 * (worn + 0.6), 0.05, 0.9))  # lost on stone tops
            out.paint.append((y0, y1, x0, x1, alpha.astype(np.float32), rgb, chips))
    return out

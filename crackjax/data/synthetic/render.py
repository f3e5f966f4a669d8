"""Composition of one synthetic image: texture x illumination x shadows x cracks x stains x joints +
sensor noise (the image model is described in crackjax/data/synthetic/__init__.py).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from crackjax.data.synthetic import cracks
from crackjax.data.synthetic import distractors
from crackjax.data.synthetic import texture
from crackjax.data.synthetic.spec import DISTRACTOR_KINDS
from crackjax.data.synthetic.spec import SyntheticSpec


def generate(seed: int, index: int, spec: SyntheticSpec = SyntheticSpec()) -> tuple[np.ndarray, np.ndarray]:
    """Draws one synthetic road image and its crack mask.

    Args:
      seed: non-negative dataset seed.
      index: non-negative image index within the dataset.
      spec: generator parameters.

    Returns:
      `(image, mask)`: `image` is `[H, W, 3] uint8` RGB, `mask` is
      `[H, W] uint8` with values in `{0, 1}` (1 = crack pixel).  Deterministic in
      `(seed, index, spec)`.
    """
    out = _render(seed, index, spec, want_layers=False)
    return out["image"], out["mask"]


def generate_layers(seed: int, index: int, spec: SyntheticSpec = SyntheticSpec()) -> dict[str, np.ndarray]:
    """Same draw as `generate`, plus per-distractor masks.

    Returns:
      dict with `'image'` (`[H, W, 3] uint8`), `'mask'` (`[H, W] uint8`
      in {0, 1}) and, for every kind in `DISTRACTOR_KINDS`
      (`'lane_marking'`, `'shadow'`, `'oil_stain'`, `'joint'`), a boolean
      `[H, W]` mask of where that distractor is (all False when absent or when
      `spec.distractors` is False).  Masks mark the visually affected core:
      paint alpha > 0.5, shadow darkening > half its strength, stain alpha > 0.5,
      joint pixels inside its nominal width.
    """
    return _render(seed, index, spec, want_layers=True)


def distractors_present(seed: int, index: int, spec: SyntheticSpec = SyntheticSpec()) -> tuple[str, ...]:
    """The distractor kinds image `index` holds (a subset of `DISTRACTOR_KINDS`), without rendering it:
    the same draw as `generate`, in microseconds instead of seconds at survey scale."""
    if not spec.distractors:
        return ()
    present = distractors.draw_presence(_streams(seed, index)[2])
    return tuple(kind for kind in DISTRACTOR_KINDS if present[kind])


def _streams(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """The image's four independent random streams: texture, cracks, distractors, sensor noise."""
    ss = np.random.SeedSequence([int(seed), int(index)])
    return tuple(np.random.default_rng(c) for c in ss.spawn(4))


def _render(seed: int, index: int, spec: SyntheticSpec, want_layers: bool) -> dict[str, np.ndarray]:
    if not isinstance(spec, SyntheticSpec):
        raise TypeError(f"spec must be a SyntheticSpec, got {type(spec).__name__}")
    h, w = int(spec.height), int(spec.width)
    r_tex, r_crack, r_dist, r_noise = _streams(seed, index)

    # --- distractor geometry (needed first: cracks avoid joints / stains) -----------
    dist = distractors.draw_distractors(r_dist, spec) if spec.distractors else distractors.Distractors(forbidden=np.zeros(h * w, bool))

    # --- asphalt texture --------------------------------------------------------------
    base = r_tex.uniform(95.0, 150.0)
    tint = np.array([1.0, 1.0, 1.0], np.float32) + r_tex.normal(0, 0.025, 3).astype(np.float32)
    tint /= tint.mean()
    # low-frequency multiplicative field on a 4-px grid: octaves x illumination x shadow
    low = texture.octave_noise(r_tex, h, w, (256, 64, 16), (0.05, 0.045, 0.035), texture.LOW_CELL)
    gy, gx = texture.grid_coords(h, w, texture.LOW_CELL)
    grad = r_tex.uniform(-0.18, 0.18)
    vign = r_tex.uniform(0.0, 0.18)
    xc = r_tex.uniform(0.35, 0.65)
    illum = (1.0 + grad * (gy / h - 0.5)) * (1.0 - vign * ((gx / w - xc) * 2.0) ** 2)
    lowfield = np.exp(low) * illum
    if dist.lowfield is not None:
        lowfield = lowfield * dist.lowfield
    L = texture.upsample_to(lowfield, texture.LOW_CELL, h, w)

    # fine detail: grain, aggregate stones, dark pores
    n1 = ndimage.gaussian_filter(r_tex.standard_normal((h, w), dtype=np.float32), 0.9, truncate=3.0)
    n1 *= 1.0 / 0.31  # std of sigma-0.9 filtered white noise ~ 1/(2 sqrt(pi) 0.9)
    n2 = ndimage.gaussian_filter(r_tex.standard_normal((h, w), dtype=np.float32), 2.0, truncate=3.0)
    n2 *= 1.0 / 0.141
    stone_gain = r_tex.uniform(0.12, 0.22)
    pore_gain = r_tex.uniform(0.35, 0.55)
    detail = 1.0 + 0.07 * n1
    detail += 0.04 * n2
    detail += stone_gain * texture.smoothstep(n2, 0.6, 1.4) * (1.0 + 0.3 * n1)  # light stones
    detail -= 0.45 * stone_gain * texture.smoothstep(n2, -0.9, -1.7)  # darker stones / binder
    detail -= pore_gain * texture.smoothstep(-n1 - 0.35 * n2, 2.1, 3.0)
    gray = (base * detail).astype(np.float32)

    # --- cracks -------------------------------------------------------------------------
    cv = cracks.draw_cracks(r_crack, spec, dist.forbidden)
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
        alpha = alpha * (1.0 - chips * texture.smoothstep(n2[y0:y1, x0:x1], 0.1, 0.9))
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
            out["shadow"] = texture.upsample_to(dist.shadow_alpha_low, texture.LOW_CELL, h, w) > 0.5
        for kind, y0, y1, x0, x1, _, layer in dist.local:
            out[kind][y0:y1, x0:x1] |= layer
        for y0, y1, x0, x1, alpha, _, _ in dist.paint:
            out["lane_marking"][y0:y1, x0:x1] |= alpha > 0.5
    return out

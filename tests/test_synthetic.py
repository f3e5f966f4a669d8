"""Tests of the procedural synthetic road-crack generator (crackjax.data.synthetic)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import ndimage
from skimage.morphology import skeletonize

from crackjax.data.synthetic import DISTRACTOR_KINDS, SyntheticSpec, distractors_present, generate, generate_layers

SIZES = [(1024, 1024), (256, 256), (128, 192), (192, 128)]


def _fraction_bounds(spec: SyntheticSpec) -> tuple[float, float]:
    return spec.crack_fraction


def _skeleton_widths(mask: np.ndarray) -> np.ndarray:
    """Local crack width ``2 * edt - 1`` at the skeleton pixels of a binary mask."""
    m = mask.astype(bool)
    skel = skeletonize(m)
    edt = ndimage.distance_transform_edt(m)
    return 2.0 * edt[skel] - 1.0


def _widths_ok(widths: np.ndarray, lo: int, hi: int) -> bool:
    """Width check used throughout: every skeleton width >= ``lo``-ish (>= 1), 98 % of
    them <= ``hi + 0.5`` (digital disks on diagonals measure up to sqrt-steps more) and
    none above ``hi + 3`` (slack for junctions, where two cracks merge)."""
    if widths.size == 0:
        return False
    return bool(widths.min() >= 1.0 and np.quantile(widths, 0.98) <= hi + 0.5 and widths.max() <= hi + 3.0)


# ----------------------------------------------------------------------------- basics


@pytest.mark.parametrize("hw", SIZES)
def test_shapes_dtypes_values(hw):
    spec = SyntheticSpec(height=hw[0], width=hw[1])
    image, mask = generate(0, 1, spec)
    assert image.shape == (hw[0], hw[1], 3) and image.dtype == np.uint8
    assert mask.shape == hw and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) <= {0, 1}
    assert mask.any()
    # not a degenerate image: real grey-level spread, no wide saturation
    g = image.astype(np.float32).mean(-1)
    assert 5.0 < g.std() < 80.0
    assert (image == 255).mean() < 0.01 and (image == 0).mean() < 0.01


@pytest.mark.parametrize(
    "hw,n",
    [((1024, 1024), 4), ((256, 256), 24), ((128, 192), 24), ((128, 128), 24), ((192, 128), 12)],
)
def test_crack_fraction_within_spec(hw, n):
    spec = SyntheticSpec(height=hw[0], width=hw[1])
    lo, hi = _fraction_bounds(spec)
    fr = np.array([generate(seed, idx, spec)[1].mean() for seed in (0, 11) for idx in range(n // 2)])
    assert np.all(fr >= lo) and np.all(fr <= hi), fr
    if n >= 12:  # the target is drawn over the whole range, not pinned to one end
        assert fr.min() < lo + 0.35 * (hi - lo) and fr.max() > hi - 0.35 * (hi - lo), fr


def test_crack_fraction_custom_range_and_zero():
    spec = SyntheticSpec(height=256, width=320, crack_fraction=(0.02, 0.03), crack_width=(2, 4))
    for idx in range(6):
        m = generate(3, idx, spec)[1]
        assert 0.02 <= m.mean() <= 0.03
    m = generate(3, 0, SyntheticSpec(height=64, width=64, crack_fraction=(0.0, 0.0)))[1]
    assert not m.any()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    h=st.integers(16, 320),
    w=st.integers(16, 320),
    seed=st.integers(0, 2**31 - 1),
    index=st.integers(0, 10**6),
    distractors=st.booleans(),
)
def test_crack_fraction_any_size(h, w, seed, index, distractors):
    spec = SyntheticSpec(height=h, width=w, distractors=distractors)
    image, mask = generate(seed, index, spec)
    assert image.shape == (h, w, 3) and mask.shape == (h, w)
    n = h * w
    assert np.ceil(0.001 * n - 1e-9) <= mask.sum() <= np.floor(0.005 * n + 1e-9)


# ----------------------------------------------------------------------------- widths


def test_crack_widths_within_spec():
    spec = SyntheticSpec()
    w = np.concatenate([_skeleton_widths(generate(2, i, spec)[1]) for i in range(2)])
    small = SyntheticSpec(height=256, width=256, crack_fraction=(0.004, 0.01))
    w = np.concatenate([w] + [_skeleton_widths(generate(2, i, small)[1]) for i in range(8)])
    assert _widths_ok(w, *spec.crack_width), np.quantile(w, [0, 0.5, 0.98, 1])
    # widths really vary inside the range (not all hairlines)
    assert np.quantile(w, 0.95) >= 3.0 and (w <= 1.0).mean() > 0.2


def test_width_check_rejects_wide_cracks():
    """The check above must fail on 8 px cracks (and accept 1 px ones with a tight bound)."""
    wide = SyntheticSpec(height=256, width=256, crack_fraction=(0.004, 0.01), crack_width=(8, 8))
    w = np.concatenate([_skeleton_widths(generate(2, i, wide)[1]) for i in range(4)])
    assert not _widths_ok(w, 1, 5)
    assert np.median(w) >= 7.0
    thin = dataclasses.replace(wide, crack_width=(1, 1))
    w = np.concatenate([_skeleton_widths(generate(2, i, thin)[1]) for i in range(4)])
    assert _widths_ok(w, 1, 1) and np.quantile(w, 0.99) <= 1.0 + 1e-6


# ----------------------------------------------------------------------------- determinism


def test_determinism_and_variation():
    spec = SyntheticSpec(height=256, width=384)
    a_img, a_m = generate(5, 7, spec)
    b_img, b_m = generate(5, 7, SyntheticSpec(height=256, width=384))
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_m, b_m)
    layers = generate_layers(5, 7, spec)
    np.testing.assert_array_equal(layers["image"], a_img)
    np.testing.assert_array_equal(layers["mask"], a_m)
    for other in [(5, 8), (6, 7)]:
        c_img, c_m = generate(*other, spec)
        assert np.abs(c_img.astype(int) - a_img).mean() > 3.0
        assert not np.array_equal(c_m, a_m)


def test_default_1024_deterministic():
    a = generate(1, 2)
    b = generate(1, 2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_no_global_rng_use():
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    generate(0, 0, SyntheticSpec(height=128, width=128))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


# ----------------------------------------------------------------------------- distractors


def test_layers_structure_and_presence():
    spec = SyntheticSpec(height=384, width=384)
    seen = {k: 0 for k in DISTRACTOR_KINDS}
    for idx in range(10):
        layers = generate_layers(4, idx, spec)
        assert set(layers) == {"image", "mask", *DISTRACTOR_KINDS}
        # the cheap presence draw names exactly the kinds the render painted
        assert distractors_present(4, idx, spec) == tuple(k for k in DISTRACTOR_KINDS if layers[k].any())
        m = layers["mask"].astype(bool)
        for k in DISTRACTOR_KINDS:
            assert layers[k].shape == (384, 384) and layers[k].dtype == bool
            seen[k] += bool(layers[k].any())
        # cracks never enter joints or oil stains (they stop 3 px / 2 px before them)
        assert not (m & ndimage.binary_dilation(layers["joint"], iterations=2)).any()
        assert not (m & layers["oil_stain"]).any()
    assert all(v >= 1 for v in seen.values()), seen
    assert all(v <= 8 for v in seen.values()), seen  # not every image has every kind


def test_distractors_off():
    spec = SyntheticSpec(height=256, width=256, distractors=False)
    for idx in range(6):
        layers = generate_layers(4, idx, spec)
        assert not any(layers[k].any() for k in DISTRACTOR_KINDS)
        assert distractors_present(4, idx, spec) == ()


def _naive_dark(gray: np.ndarray) -> np.ndarray:
    """Naive crack detector: pixels much darker than the image median."""
    return gray < 0.6 * np.median(gray)


def test_distractors_confuse_a_naive_detector():
    on = SyntheticSpec(height=384, width=384)
    off = dataclasses.replace(on, distractors=False)
    stats = {True: [0, 0], False: [0, 0]}
    fire = {k: [0, 0] for k in (*DISTRACTOR_KINDS, "background")}
    for idx in range(10):
        for spec in (on, off):
            layers = generate_layers(8, idx, spec)
            gray = layers["image"].astype(np.float32).mean(-1)
            m = layers["mask"].astype(bool)
            pred = _naive_dark(gray)
            stats[spec.distractors][0] += np.count_nonzero(pred & m)
            stats[spec.distractors][1] += np.count_nonzero(pred)
            if spec.distractors:
                near = ndimage.binary_dilation(m, iterations=3)
                anyd = np.zeros_like(m)
                for k in DISTRACTOR_KINDS:
                    region = layers[k] & ~near
                    if k == "lane_marking":  # dark asphalt gaps in / next to worn paint
                        region = ndimage.binary_dilation(layers[k], iterations=6) & ~layers[k] & ~near
                    fire[k][0] += np.count_nonzero(pred & region)
                    fire[k][1] += np.count_nonzero(region)
                    anyd |= ndimage.binary_dilation(layers[k], iterations=8)
                bg = ~anyd & ~near
                fire["background"][0] += np.count_nonzero(pred & bg)
                fire["background"][1] += np.count_nonzero(bg)
    prec_on = stats[True][0] / max(stats[True][1], 1)
    prec_off = stats[False][0] / max(stats[False][1], 1)
    # cracks themselves are dark enough for the naive detector on clean asphalt ...
    assert prec_off > 0.08, (prec_on, prec_off)
    # ... but the distractors wreck its precision
    assert prec_on < 0.5 * prec_off, (prec_on, prec_off)
    rate = {k: a / max(b, 1) for k, (a, b) in fire.items()}
    for k in ("shadow", "oil_stain", "joint"):
        assert rate[k] > 5 * rate["background"], rate
    assert rate["lane_marking"] > 2 * rate["background"], rate


def test_cracks_are_dark_in_image():
    """Crack pixels are clearly darker than the asphalt around them (label matches image)."""
    spec = SyntheticSpec(height=512, width=512)
    for idx in range(4):
        layers = generate_layers(9, idx, spec)
        gray = layers["image"].astype(np.float32).mean(-1)
        m = layers["mask"].astype(bool)
        ring = ndimage.binary_dilation(m, iterations=6) & ~ndimage.binary_dilation(m, iterations=2)
        assert np.median(gray[m]) < 0.8 * np.median(gray[ring])


def test_spec_validation():
    with pytest.raises(ValueError):
        SyntheticSpec(crack_fraction=(0.01, 0.001))
    with pytest.raises(ValueError):
        SyntheticSpec(crack_width=(0, 3))
    with pytest.raises(ValueError):
        SyntheticSpec(height=8)
    spec = SyntheticSpec(crack_fraction=[0.001, 0.002], crack_width=[1, 3])
    assert spec.crack_fraction == (0.001, 0.002) and spec.crack_width == (1, 3)
    hash(spec)

"""Tests for crackjax.measurement on synthetic cracks of known geometry."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skimage.draw import polygon

from crackjax.measurement import CrackQuantification
from crackjax.measurement import JTGRules
from crackjax.measurement import pci_from_dr
from crackjax.measurement import quantify_cracks
from crackjax.measurement import quantify_cracks_dict


def _bar(length: int, width: int, shape=(60, 260), r0: int = 20, c0: int = 20,
         vertical: bool = False) -> np.ndarray:
  """uint8 [H, W] mask with a `width` x `length` bar at (r0, c0); transposed if `vertical`."""
  m = np.zeros(shape, dtype=np.uint8)
  m[r0 : r0 + width, c0 : c0 + length] = 1
  return m.T.copy() if vertical else m


def _axis_dev(angle: float) -> float:
  """Angular distance (deg) of an axis angle in [0, 180) from the x axis."""
  return min(angle, 180.0 - angle)


def _finite_json(d: dict) -> None:
  json.loads(json.dumps(d, allow_nan=False))


# ----------------------------------------------------------------------------- straight bars


@pytest.mark.parametrize("length,width",
                         [(200, 1), (200, 2), (200, 3), (150, 4), (220, 5), (180, 8), (240, 11)])
def test_horizontal_bar_length_and_exact_width(length: int, width: int) -> None:
  q = quantify_cracks(_bar(length, width))
  assert q.n_segments == 1
  assert q.area_px == length * width
  assert q.length_px == pytest.approx(length, rel=0.02)
  assert q.length_corrected_px == pytest.approx(length, rel=0.02)
  assert q.mean_width_px == pytest.approx(width, abs=1e-9)
  assert q.median_width_px == pytest.approx(width, abs=1e-9)
  assert q.max_width_px == pytest.approx(width, abs=1e-9)
  seg = q.segments[0]
  assert seg.orientation == "transverse" and q.orientation == "transverse"
  assert _axis_dev(seg.angle_deg) < 2.0
  assert seg.n_cells == 0 and seg.n_branch_points == 0 and seg.n_end_points == 2
  assert seg.bbox == (20, 20, 20 + width, 20 + length)


@pytest.mark.parametrize("width", [3, 6])
def test_vertical_bar_is_longitudinal(width: int) -> None:
  m = _bar(190, width, vertical=True)
  q = quantify_cracks(m)
  assert q.orientation == "longitudinal"
  assert abs(q.segments[0].angle_deg - 90.0) < 2.0
  assert q.length_px == pytest.approx(190, rel=0.02)
  assert q.mean_width_px == pytest.approx(width, abs=1e-9)
  assert q.max_width_px == pytest.approx(width, abs=1e-9)
  # driving direction along x swaps the classes
  assert quantify_cracks(m, driving_direction="x").orientation == "transverse"


def test_bar_through_image_border_measured_to_border() -> None:
  m = np.zeros((40, 120), np.uint8)
  m[10:15, :] = 1  # leaves the image on both sides
  q = quantify_cracks(m)
  assert q.length_px == pytest.approx(120, abs=1.5)
  assert q.mean_width_px == pytest.approx(5, abs=1e-9)


# ----------------------------------------------------------------------------- oblique cracks


@pytest.mark.parametrize("half_band", [0, 1, 2, 3])
def test_diagonal_line(half_band: int) -> None:
  """45-deg band {|r - c| <= k} over 100 diagonal steps: length 100*sqrt(2)."""
  i = np.arange(120)
  rr, cc = np.meshgrid(i, i, indexing="ij")
  m = (np.abs(rr - cc) <= half_band) & (rr >= 10) & (rr < 110) & (cc >= 10) & (cc < 110)
  q = quantify_cracks(m)
  true_len = 100 * math.sqrt(2)
  assert q.n_segments == 1
  assert q.length_px == pytest.approx(true_len, rel=0.02)  # chain code is exact at 45 deg
  assert q.length_corrected_px == pytest.approx(true_len, rel=0.02)
  # width: area per unit length, up to the digitisation of the 45-deg staircase
  area_width = m.sum() / true_len
  assert q.mean_width_px == pytest.approx(max(area_width, 1.0), abs=0.5)
  assert q.segments[0].angle_deg == pytest.approx(45.0)
  assert q.orientation == "transverse"  # 45 deg is transverse (inclusive rule)


@pytest.mark.parametrize("angle", [15.0, 22.5, 30.0, 65.0])
def test_rotated_bar(angle: float) -> None:
  a = math.radians(angle)
  length, width = 150.0, 7.0
  t = np.array([math.cos(a), math.sin(a)])
  n = np.array([-math.sin(a), math.cos(a)])
  pts = [np.array([100.0, 100.0]) + s1 * length / 2 * t + s2 * width / 2 * n
         for s1, s2 in [(-1, -1), (1, -1), (1, 1), (-1, 1)]]
  m = np.zeros((200, 200), bool)
  rr, cc = polygon([p[1] for p in pts], [p[0] for p in pts], m.shape)
  m[rr, cc] = True
  q = quantify_cracks(m)
  chain = max(abs(t[0]), abs(t[1])) + (math.sqrt(2) - 1) * min(abs(t[0]), abs(t[1]))
  assert q.length_corrected_px == pytest.approx(length, rel=0.02)
  assert q.length_px == pytest.approx(length * chain, rel=0.02)  # documented chain-code bias
  assert q.mean_width_px == pytest.approx(width, abs=0.5)
  assert q.segments[0].angle_deg == pytest.approx(angle, abs=1.0)
  assert q.orientation == ("transverse" if angle <= 45 else "longitudinal")


# ----------------------------------------------------------------------------- varying width


def test_step_width_line() -> None:
  m = np.zeros((60, 240), np.uint8)
  m[20:23, 20:120] = 1  # width 3
  m[18:25, 120:220] = 1  # width 7
  q = quantify_cracks(m)
  assert q.n_segments == 1
  assert q.max_width_px == pytest.approx(7.0, abs=1e-9)
  assert q.length_px == pytest.approx(200, rel=0.02)
  assert q.mean_width_px == pytest.approx(5.0, abs=0.3)
  widths = np.array([3.0, 7.0])
  assert np.min(np.abs(widths - q.median_width_px)) < 1.01  # median near one of the plateaus


def test_tapered_line() -> None:
  m = np.zeros((60, 240), np.uint8)
  cols = np.arange(20, 220)
  for x in cols:
    w = 3 + 8 * (x - 20) / 200  # 3 -> 11 px
    m[int(round(30 - w / 2)) : int(round(30 + w / 2)), x] = 1
  q = quantify_cracks(m)
  col_widths = m[:, cols].sum(axis=0)
  assert q.mean_width_px == pytest.approx(col_widths.mean(), abs=0.5)
  assert q.max_width_px <= col_widths.max() + 1e-9
  assert q.max_width_px >= col_widths.max() - 1.5  # thick end trimmed by the tip exclusion
  assert q.length_px == pytest.approx(200, rel=0.02)


# ----------------------------------------------------------------------------- networks


def _grid(spacing: int = 40, width: int = 3, size: int = 200) -> np.ndarray:
  m = np.zeros((size, size), np.uint8)
  for k in range(10, size, spacing):
    m[k : k + width, :] = 1
    m[:, k : k + width] = 1
  return m


def test_grid_is_block_alligator() -> None:
  q = quantify_cracks(_grid())
  assert q.n_segments == 1 and q.orientation == "block_alligator"
  s = q.segments[0]
  assert s.orientation == "block_alligator"
  assert s.n_cells == 16  # 4 x 4 closed cells between 5 x 5 lines
  assert s.n_branch_points == 25
  assert s.cell_size_px == pytest.approx(40.0, abs=0.5)  # crack-centre spacing
  assert s.mean_width_px == pytest.approx(3.0, abs=1e-9)
  assert s.length_px == pytest.approx(10 * 200, rel=0.02)  # 10 lines of 200 px
  assert q.length_by_orientation_px["block_alligator"] == pytest.approx(s.length_px)


def test_cross_is_not_block_and_single_cell_threshold() -> None:
  m = np.zeros((100, 100), np.uint8)
  m[48:53, 10:90] = 1
  m[10:90, 48:53] = 1
  q = quantify_cracks(m)
  assert q.segments[0].n_cells == 0 and q.segments[0].n_branch_points == 1
  assert q.segments[0].orientation in ("transverse", "longitudinal")
  assert q.mean_width_px == pytest.approx(5.0, abs=1e-9)
  # one closed square ring: a single cell is not "many cells" by default
  ring = np.zeros((80, 80), np.uint8)
  ring[10:70, 10:70] = 1
  ring[13:67, 13:67] = 0
  assert quantify_cracks(ring).segments[0].orientation != "block_alligator"
  assert quantify_cracks(ring, min_cells=1).segments[0].orientation == "block_alligator"


def test_mixed_image_orientation_by_length_and_specks() -> None:
  m = np.zeros((200, 300), np.uint8)
  m[20:24, 20:280] = 1  # long transverse
  m[60:160, 100:103] = 1  # shorter longitudinal
  m[180, 10:13] = 1  # 3-px speck
  q = quantify_cracks(m)
  assert q.n_segments == 2
  assert q.orientation == "transverse"
  assert sorted(s.orientation for s in q.segments) == ["longitudinal", "transverse"]
  assert q.area_px == 260 * 4 + 100 * 3
  q1 = quantify_cracks(m, min_segment_px=1)
  assert q1.n_segments == 3 and q1.area_px == q.area_px + 3


# ----------------------------------------------------------------------------- units and JTG


def test_mm_conversion() -> None:
  m = _bar(200, 5)
  q = quantify_cracks(m, mm_per_pixel=2.0)
  assert q.length_mm == pytest.approx(2.0 * q.length_px)
  assert q.length_corrected_mm == pytest.approx(2.0 * q.length_corrected_px)
  assert q.mean_width_mm == pytest.approx(10.0)
  assert q.max_width_mm == pytest.approx(10.0)
  assert q.area_m2 == pytest.approx(1000 * (2.0 / 1000) ** 2)
  s = q.segments[0]
  assert s.length_mm == pytest.approx(2.0 * s.length_px)
  assert s.area_m2 == pytest.approx(q.area_m2)
  # without a scale the metric fields stay None
  q0 = quantify_cracks(m)
  assert q0.length_mm is None and q0.jtg is None and q0.segments[0].jtg_type is None


def test_one_mm_floor() -> None:
  m = _bar(200, 3)  # 3 px wide
  below = quantify_cracks(m, mm_per_pixel=0.3)  # 0.9 mm
  seg = below.segments[0]
  assert seg.jtg_severity == "not_counted" and seg.jtg_damage_area_m2 == 0.0
  assert below.jtg.n_not_counted == 1 and below.jtg.dr_percent == 0.0 and below.jtg.pci == 100.0
  above = quantify_cracks(m, mm_per_pixel=0.34)  # 1.02 mm
  assert above.segments[0].jtg_severity == "light"
  assert above.jtg.n_not_counted == 0


def test_linear_crack_light_heavy_damage_area_dr_pci() -> None:
  mpp = 1.0
  light = quantify_cracks(_bar(200, 3), mm_per_pixel=mpp)  # 3 mm -> light (<= 3)
  heavy = quantify_cracks(_bar(200, 4), mm_per_pixel=mpp)  # 4 mm -> heavy
  ls, hs = light.segments[0], heavy.segments[0]
  assert (ls.jtg_type, ls.jtg_severity, ls.jtg_weight) == ("transverse", "light", 0.6)
  assert (hs.jtg_type, hs.jtg_severity, hs.jtg_weight) == ("transverse", "heavy", 1.0)
  # damaged area = length (m) x 0.2 m
  assert ls.jtg_damage_area_m2 == pytest.approx(ls.length_mm / 1000 * 0.2)
  j = heavy.jtg
  assert j.damage_area_m2 == {"transverse/heavy": pytest.approx(hs.jtg_damage_area_m2)}
  assert j.length_m["transverse/heavy"] == pytest.approx(hs.length_mm / 1000)
  image_area = 60 * 260 * (mpp / 1000) ** 2
  assert j.survey_area_m2 == pytest.approx(image_area)
  assert j.dr_percent == pytest.approx(100 * 1.0 * hs.jtg_damage_area_m2 / image_area)
  assert j.pci == pci_from_dr(j.dr_percent)
  # explicit survey area
  q = quantify_cracks(_bar(200, 4), mm_per_pixel=mpp, survey_area_m2=100.0)
  assert q.jtg.dr_percent == pytest.approx(100 * hs.jtg_damage_area_m2 / 100.0)
  assert q.jtg.pci == pytest.approx(100 - 15.0 * q.jtg.dr_percent**0.412)
  vq = quantify_cracks(_bar(190, 3, vertical=True), mm_per_pixel=mpp)
  assert (vq.segments[0].jtg_type, vq.segments[0].jtg_severity) == ("longitudinal", "light")


def test_alligator_and_block_rules() -> None:
  m = _grid(spacing=40, width=3)
  q = quantify_cracks(m, mm_per_pixel=0.6)  # width 1.8 mm, block 0.024 m
  s = q.segments[0]
  assert s.cell_size_m == pytest.approx(0.024, abs=0.0005)
  assert s.jtg_type == "alligator"
  assert s.jtg_severity == "medium"  # width light (<= 2 mm) but blocks < 0.2 m
  assert s.jtg_weight == 0.8
  assert s.jtg_damage_area_m2 == pytest.approx((200 * 0.6 / 1000) ** 2)  # bounding rectangle
  assert q.jtg.weighted_damage_area_m2 == pytest.approx(0.8 * s.jtg_damage_area_m2)
  # wider cracks -> heavy
  q = quantify_cracks(m, mm_per_pixel=2.0)  # width 6 mm
  assert (q.segments[0].jtg_type, q.segments[0].jtg_severity) == ("alligator", "heavy")
  # block cracking with rescaled rules (cells >= alligator_max_block_m)
  rules = JTGRules(alligator_max_block_m=0.02, block_light_min_block_m=0.03)
  q = quantify_cracks(m, mm_per_pixel=0.6, rules=rules)
  s = q.segments[0]
  assert (s.jtg_type, s.jtg_severity, s.jtg_weight) == ("block", "heavy", 0.8)
  rules = JTGRules(alligator_max_block_m=0.02, block_light_min_block_m=0.02)
  q = quantify_cracks(m, mm_per_pixel=0.6, rules=rules)
  s = q.segments[0]
  assert (s.jtg_type, s.jtg_severity, s.jtg_weight) == ("block", "light", 0.6)
  assert q.jtg.rules["block_light_min_block_m"] == 0.02


def test_pci_from_dr() -> None:
  assert pci_from_dr(0.0) == 100.0
  assert pci_from_dr(1.0) == pytest.approx(85.0)
  vals = [pci_from_dr(d) for d in (0.1, 1, 5, 20, 50)]
  assert all(a > b for a, b in zip(vals, vals[1:]))
  assert pci_from_dr(1e6) == 0.0


# ----------------------------------------------------------------------------- edge cases / API


def test_empty_mask() -> None:
  for mpp in (None, 1.0):
    q = quantify_cracks(np.zeros((32, 48), np.uint8), mm_per_pixel=mpp)
    assert q.n_segments == 0 and q.area_px == 0 and q.length_px == 0.0
    assert q.mean_width_px == 0.0 and q.max_width_px == 0.0 and q.orientation == "none"
    _finite_json(q.to_dict())
  assert q.jtg is not None and q.jtg.dr_percent == 0.0 and q.jtg.pci == 100.0
  # only specks -> empty as well
  m = np.zeros((32, 48), np.uint8)
  m[5, 5:8] = 1
  assert quantify_cracks(m).n_segments == 0


def test_dict_api_is_json_serialisable() -> None:
  d = quantify_cracks_dict(_grid(), mm_per_pixel=1.0)
  _finite_json(d)
  assert d["orientation"] == "block_alligator"
  assert isinstance(d["segments"], list) and isinstance(d["segments"][0]["bbox"], (list, tuple))
  assert "jtg" in d["conventions"]
  assert isinstance(quantify_cracks(_grid()), CrackQuantification)


def test_input_validation() -> None:
  with pytest.raises(ValueError):
    quantify_cracks(np.full((8, 8), 255, np.uint8))
  with pytest.raises(ValueError):
    quantify_cracks(np.zeros((2, 8, 8), np.uint8))
  with pytest.raises(ValueError):
    quantify_cracks(np.zeros((8, 8), np.uint8), mm_per_pixel=0.0)
  with pytest.raises(ValueError):
    quantify_cracks(np.zeros((8, 8), np.uint8), driving_direction="z")  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    m=hnp.arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24)),
                 elements=st.booleans()),
    min_px=st.integers(1, 6),
    mpp=st.sampled_from([None, 0.5, 3.0]),
)
def test_property_robust_on_arbitrary_masks(m: np.ndarray, min_px: int, mpp: float | None) -> None:
  q = quantify_cracks(m, mm_per_pixel=mpp, min_segment_px=min_px)
  d = q.to_dict()
  _finite_json(d)
  assert q.area_px <= int(m.sum())
  assert q.area_px == sum(s.area_px for s in q.segments)
  for s in q.segments:
    assert s.area_px >= min_px
    assert s.length_px >= 0 and s.length_corrected_px >= 0
    assert 1.0 - 1e-9 <= s.mean_width_px <= s.max_width_px + 1e-9
    assert s.orientation in ("transverse", "longitudinal", "block_alligator")
    assert 0.0 <= s.angle_deg < 180.0
  if mpp is not None:
    assert q.jtg is not None and 0.0 <= q.jtg.pci <= 100.0 and q.jtg.dr_percent >= 0.0

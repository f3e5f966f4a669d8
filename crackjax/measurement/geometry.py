"""Crack quantification from a binary crack mask (host side, numpy/scipy/skimage).

Given a mask `[H, W]` (bool or {0, 1}) this measures what road engineers report:
length, width (mean / median / max), area, number of crack segments, the orientation
class of each segment and of the image, everything in pixels and -- given
`mm_per_pixel` -- in millimetres / m^2, plus a severity / damaged-area assessment
following our reading of the Chinese highway standard JTG 5210-2018.

Entry points (re-exported by `crackjax.measurement`): `quantify_cracks` -> `CrackQuantification` (dataclass) and
`quantify_cracks_dict` -> JSON-serialisable `dict`.

Geometry conventions (pixels; unit pixel spacing, pixel centres at integer coords)
---------------------------------------------------------------------------------
Image axes
    `x` = column index (to the right), `y` = row index (downwards).  The driving
    direction is the image `y` axis by default (`driving_direction="y"`, as for
    a forward/downward-looking vehicle camera).  Pixels outside the image are treated
    as background (the mask is zero-padded by one pixel for every computation), so a
    crack leaving the image is measured up to the image border.
Segments
    8-connected components of the mask; components with fewer than
    `min_segment_px` pixels are removed as specks *before* everything else.
Skeleton
    `skimage.morphology.skeletonize` (Zhang) of the cleaned mask, then (a) removal of
    redundant "staircase" corner pixels (a pixel whose only two skeleton neighbours
    are two 4-neighbours forming an L; the diagonal keeps the curve connected),
    (b) spur pruning (one pass): a branch running from an end point to a junction is
    deleted when its length is `< spur_factor * DT(junction) + spur_extra_px`
    (defaults 1.0 and 3 px; `DT` = Euclidean distance transform of the mask, i.e. the
    half-width at the junction): such branches reach at most a few pixels beyond the
    crack edge and are boundary-roughness artefacts, not crack branches.
Skeleton graph and length
    Nodes = skeleton pixels.  Edges: 4-neighbours (length 1) and diagonal neighbours
    (length sqrt(2)) *unless* the two diagonal pixels share a skeleton 4-neighbour (then
    the path through that pixel already connects them and the diagonal would
    double-count).  `length = sum of edge lengths + end-point extensions`: a
    skeleton shrinks by about the half-width at every free end, so from each end point
    (graph degree 1) we march outward along the local skeleton tangent until the
    first background pixel and add that distance `h` (the distance from the end
    pixel's centre to the mask boundary, see *marching* below), capped at
    `DT + 1`.  An isolated skeleton pixel (degree 0) is extended both ways.  A
    straight bar of `L` pixels then measures `L` to within ~1 px, as does a 45 deg
    line.  Known bias of this (requested) chain-code estimator: a straight line at
    angle `phi` is over-measured by the factor
    `max(|cos|, |sin|) + (sqrt(2) - 1) min(|cos|, |sin|)` (up to +8.2 % at 22.5 deg).
    `length_corrected_px` divides every edge by that factor evaluated at the local
    tangent angle of its start pixel (end extensions unchanged): within ~1.5 % for
    straight cracks at any angle in our tests.  `length_px` (chain code) is the one
    used for the mm fields' `length_mm` and for the JTG damaged area.
Width
    At each skeleton pixel `p`: the local tangent is the principal axis of the
    skeleton pixels of the same segment within `tangent_radius_px`.  We march from
    `p` along both normals (steps of 1/4 px refined by bisection); `h+` / `h-`
    are the distances at which the marched point first falls into a background pixel
    (nearest pixel; a point on a pixel border belongs to the pixel being entered),
    i.e. the distances from `p`'s centre to the crack edge, averaged over 9 parallel
    rays whose start points are shifted along the tangent by -1 .. 1 px (this averages
    out the staircase border of oblique cracks).  Then
    `width(p) = clip(h+ + h-, 2 DT(p) - 1, 2 DT(p) + 1)`, `DT` = Euclidean distance
    transform of the mask (distance to the nearest background pixel centre).
    Why not `2 DT - 1` or `2 DT` alone: for an axis-aligned bar of `w` pixels the
    centre-line `DT` is `(w + 1) / 2` for odd and `w / 2`
    for even `w`, so `2 DT - 1` is exact only for odd and `2 DT` only for even
    widths; the two-sided march is exact for both, and the clip guards it against
    tangent errors with the distance transform.  Oblique straight cracks measure
    within ~0.5 px of area / length in our tests; a 1-px line measures 1 at any angle
    (lower clip bound).
    Width statistics (mean, median, max over skeleton pixels, unweighted) exclude
    skeleton pixels within `DT(j) + 1 + tangent_radius_px` of the nearest junction
    pixel or free end `j` (graph degree != 2): junction centres are inscribed-circle
    maxima, crack tips are rounded and carry the skeleton's end hooks, and tangents
    whose window reaches such a place are biased -- none of it is a crack width.  If
    that leaves no sample in a segment, all its skeleton pixels are used.
Area
    number of crack pixels (after speck removal).
Cells, orientation class
    A *cell* of a segment is an enclosed background region (4-connected, the dual of
    the 8-connected foreground) of at least `min_cell_area_px` pixels.  A segment
    with `>= min_cells` cells is `"block_alligator"` (intersecting cracks forming
    closed cells).  Otherwise its angle is the principal axis of its skeleton pixels,
    `angle_deg` in `[0, 180)` measured from the `+x` axis towards `+y`; it is
    `"transverse"` (perpendicular to the driving direction, i.e. along `x` for the
    default) when that axis is within 45 deg (inclusive) of the `x` axis, else
    `"longitudinal"`.  The image-level class is the class with the largest total
    segment length (ties: block_alligator > longitudinal > transverse), `"none"`
    for an empty mask.
    `cell_size` (block size) = `sqrt(median cell area) + mean crack width` of the
    segment, i.e. the crack-centre to crack-centre spacing of an equivalent square
    mesh.

Unit conversion
    `*_mm = *_px * mm_per_pixel`; `*_m2 = *_px2 * (mm_per_pixel / 1000)^2`.

The JTG 5210-2018 reading: crackjax/measurement/severity.py; the skeleton graph helpers: crackjax/measurement/skeleton.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

from crackjax.measurement import severity
from crackjax.measurement import skeleton


_ORIENT_PRIORITY = {"block_alligator": 0, "longitudinal": 1, "transverse": 2}


@dataclass(kw_only=True)
class CrackMeasures:
  """What a crack segment and a whole image are both measured by (conventions: module docstring).

  Attributes:
    area_px: crack pixels.
    length_px / length_corrected_px: chain-code / tangent-corrected skeleton length.
    mean_width_px / median_width_px / max_width_px: over the width samples.
    orientation: `"transverse"` | `"longitudinal"` | `"block_alligator"` (`"none"` for
      an image without cracks).
    length_mm ... area_m2: the same in mm / m^2; `None` without `mm_per_pixel`.
  """

  area_px: int
  length_px: float
  length_corrected_px: float
  mean_width_px: float
  median_width_px: float
  max_width_px: float
  orientation: str
  length_mm: float | None = None
  length_corrected_mm: float | None = None
  mean_width_mm: float | None = None
  median_width_mm: float | None = None
  max_width_mm: float | None = None
  area_m2: float | None = None


@dataclass(kw_only=True)
class CrackSegment(CrackMeasures):
  """Measurements of one 8-connected crack segment: `CrackMeasures` plus the fields below.

  `cell_size_m` and `jtg_*` are `None` without `mm_per_pixel`.

  Attributes:
    label: 1-based segment id (order of `scipy.ndimage.label`).
    angle_deg: skeleton principal axis in `[0, 180)` from `+x` towards `+y`.
    n_cells: enclosed cells (holes >= `min_cell_area_px`); `cell_size_px` is
      `sqrt(median cell area) + mean width` (`None` without cells).
    n_branch_points: 8-connected clusters of skeleton pixels of graph degree >= 3.
    n_end_points: skeleton pixels of graph degree 1.
    bbox: `(row_min, col_min, row_max_exclusive, col_max_exclusive)`, image coords.
    jtg_type: `"transverse"` | `"longitudinal"` | `"block"` | `"alligator"`.
    jtg_severity: `"light"` | `"medium"` (alligator only) | `"heavy"` |
      `"not_counted"` (below the 1 mm floor).
    jtg_weight / jtg_damage_area_m2: `w_i` and `A_i` of the DR sum.
  """

  label: int
  angle_deg: float
  n_cells: int
  cell_size_px: float | None
  n_branch_points: int
  n_end_points: int
  bbox: tuple[int, int, int, int]
  cell_size_m: float | None = None
  jtg_type: str | None = None
  jtg_severity: str | None = None
  jtg_weight: float | None = None
  jtg_damage_area_m2: float | None = None


@dataclass(kw_only=True)
class CrackQuantification(CrackMeasures):
  """Result of `quantify_cracks`: `CrackMeasures` of the whole image plus the fields below.
  `to_dict()` is JSON-serialisable.

  Image-level lengths and areas are sums over segments; `mean/median/max_width_px`
  are taken over the width samples of all segments together; `orientation` is the
  class with the largest total length (`"none"` for an empty mask) and
  `length_by_orientation_px` the totals per class.  `jtg` is set iff
  `mm_per_pixel` was given.  `conventions` summarises the definitions.
  """

  height: int
  width: int
  mm_per_pixel: float | None
  n_segments: int
  length_by_orientation_px: dict[str, float]
  segments: list[CrackSegment] = field(default_factory=list)
  jtg: severity.JTGAssessment | None = None
  conventions: dict[str, str] = field(default_factory=dict)

  def to_dict(self) -> dict[str, Any]:
    """Plain `dict` of Python scalars / lists / dicts (`json.dumps`-able)."""
    return asdict(self)


def quantify_cracks(
    mask: np.ndarray,
    mm_per_pixel: float | None = None,
    *,
    min_segment_px: int = 10,
    min_cell_area_px: int = 16,
    min_cells: int = 2,
    prune_spurs: bool = True,
    spur_factor: float = 1.0,
    spur_extra_px: float = 3.0,
    tangent_radius_px: int = 5,
    driving_direction: Literal["y", "x"] = "y",
    survey_area_m2: float | None = None,
    rules: severity.JTGRules = severity.JTGRules(),
) -> CrackQuantification:
  """Measure cracks in a binary mask (conventions: module docstring).

  Args:
      mask: `[H, W]` bool or integer/float with values in `{0, 1}`; 1 = crack.
      mm_per_pixel: ground sampling distance; enables `*_mm` / `*_m2` fields and
          the JTG assessment.
      min_segment_px: 8-connected components smaller than this are removed (specks).
      min_cell_area_px: smallest enclosed background region counted as a cell.
      min_cells: a segment with at least this many cells is `block_alligator`.
      prune_spurs: prune skeleton spurs (end point to junction) shorter than
          `spur_factor * DT(junction) + spur_extra_px`.
      spur_factor, spur_extra_px: see `prune_spurs`.
      tangent_radius_px: radius of the disk used to estimate the skeleton tangent.
      driving_direction: image axis along the road; `"y"` (default) makes cracks
          along `x` transverse.
      survey_area_m2: pavement area `A` for DR; default: the image footprint.
      rules: JTG thresholds and weights.

  Returns:
      `CrackQuantification`.
  """
  m = np.asarray(mask)
  if m.ndim != 2:
    raise ValueError(f"mask must be [H, W], got shape {m.shape}")
  if m.dtype != np.bool_:
    if m.size and (np.any(m < 0) or np.any(m > 1) or np.any(m % 1 != 0)):
      raise ValueError("mask must be bool or contain only {0, 1}")
  if mm_per_pixel is not None and not (float(mm_per_pixel) > 0):
    raise ValueError("mm_per_pixel must be > 0")
  if driving_direction not in ("x", "y"):
    raise ValueError("driving_direction must be 'x' or 'y'")
  h_img, w_img = m.shape
  scale = float(mm_per_pixel) if mm_per_pixel is not None else None

  # ---- segments (padded by 1: outside the image is background)
  fg = np.pad(m.astype(bool), 1)
  lab, n_lab = ndi.label(fg, structure=skeleton.EIGHT)
  if n_lab:
    sizes = np.bincount(lab.ravel(), minlength=n_lab + 1)
    keep = sizes >= int(min_segment_px)
    keep[0] = False
    fg = keep[lab]
    lab, n_lab = ndi.label(fg, structure=skeleton.EIGHT)

  dt = ndi.distance_transform_edt(fg) if n_lab else np.zeros(fg.shape)

  # ---- skeleton
  skel = skeletonize(fg) if n_lab else np.zeros_like(fg)
  skel = skeleton.remove_staircase_corners(skel)
  if prune_spurs and skel.any():
    skel = skeleton.remove_staircase_corners(skeleton.prune_spurs(skel, dt, spur_factor, spur_extra_px))
  # every segment gets at least one skeleton pixel (its DT maximum)
  if n_lab:
    present = np.zeros(n_lab + 1, bool)
    present[np.unique(lab[skel])] = True
    for li in np.nonzero(~present[1:])[0] + 1:
      pos = ndi.maximum_position(dt, lab, li)
      skel[pos] = True
  skel_lab = np.where(skel, lab, 0)

  edges = skeleton.edge_maps(skel)
  deg = skeleton.degree(skel, edges)
  rows, cols = np.nonzero(skel)
  n_sk = rows.size

  # ---- per-segment edge length
  seg_len = np.zeros(n_lab + 1)
  for _, _, em, L in edges:
    seg_len += L * np.bincount(lab[em], minlength=n_lab + 1)

  # ---- local tangent at each skeleton pixel
  per_pixel_width = np.zeros(n_sk)
  seg_len_corr = np.zeros(n_lab + 1)
  if n_sk:
    mxx, mxy, myy, sx, sy, cnt = skeleton.local_moments(skel_lab, rows, cols, int(tangent_radius_px))
    theta = 0.5 * np.arctan2(2 * mxy, mxx - myy)  # tangent angle in (x, y)
    # fall back to the segment's skeleton principal axis where no neighbour exists
    seg_theta = skeleton.segment_axes(skel_lab, n_lab)
    lone = cnt == 0
    theta[lone] = seg_theta[skel_lab[rows[lone], cols[lone]]]
    tx, ty = np.cos(theta), np.sin(theta)
    nx, ny = -ty, tx
    d = dt[rows, cols]
    cap = float(d.max()) + 2.0
    rf, cf = rows.astype(float), cols.astype(float)
    raw = np.zeros(n_sk)
    for u in skeleton.LATERAL_OFFSETS:  # average over rays shifted along the tangent
      r0, c0 = rf + u * ty, cf + u * tx
      raw += skeleton.march(fg, r0, c0, ny, nx, cap) + skeleton.march(fg, r0, c0, -ny, -nx, cap)
    raw /= len(skeleton.LATERAL_OFFSETS)
    per_pixel_width = np.clip(raw, 2 * d - 1, 2 * d + 1)

    # ---- end-point extensions
    ends = deg[rows, cols] <= 1
    ext = np.zeros(n_sk)
    if ends.any():
      er, ec = rows[ends].astype(float), cols[ends].astype(float)
      etx, ety = tx[ends], ty[ends]
      # outward = away from the centroid of the neighbouring skeleton pixels
      sgn = np.where(etx * sx[ends] + ety * sy[ends] > 0, -1.0, 1.0)
      out1 = skeleton.march(fg, er, ec, sgn * ety, sgn * etx, cap)
      e1 = np.minimum(out1, d[ends] + 1.0)
      iso = deg[rows[ends], cols[ends]] == 0
      e2 = np.zeros_like(e1)
      if iso.any():
        out2 = skeleton.march(fg, er[iso], ec[iso], -sgn[iso] * ety[iso], -sgn[iso] * etx[iso], cap)
        e2[iso] = np.minimum(out2, d[ends][iso] + 1.0)
      ext[ends] = e1 + e2
    seg_len += np.bincount(skel_lab[rows, cols], weights=ext, minlength=n_lab + 1)
    inv_f = np.zeros(skel.shape)
    inv_f[rows, cols] = 1.0 / skeleton.chain_factor(theta)
    for _, _, em, L in edges:
      seg_len_corr += np.bincount(lab[em], weights=L * inv_f[em], minlength=n_lab + 1)
    seg_len_corr += np.bincount(skel_lab[rows, cols], weights=ext, minlength=n_lab + 1)

  # ---- junctions and width samples (skip pixels within DT + 1 of junctions / free ends)
  junction = skel & (deg >= 3)
  special = skel & (deg != 2)
  use_for_width = np.ones(n_sk, bool)
  if special.any() and n_sk:
    dist_j, (jr, jc) = ndi.distance_transform_edt(~special, return_indices=True)
    radius = dt[jr[rows, cols], jc[rows, cols]] + 1.0 + float(tangent_radius_px)
    near = dist_j[rows, cols] <= radius
    use_for_width = ~near
  jlab, _ = ndi.label(junction, structure=skeleton.EIGHT)

  # ---- per segment
  slices = ndi.find_objects(lab)
  seg_of_px = skel_lab[rows, cols]
  seg_axes = skeleton.segment_axes(skel_lab, n_lab)
  segments: list[CrackSegment] = []
  all_widths: list[np.ndarray] = []
  for li in range(1, n_lab + 1):
    sl = slices[li - 1]
    crop = lab[sl] == li
    sel = seg_of_px == li
    wsel = sel & use_for_width
    widths = per_pixel_width[wsel] if wsel.any() else per_pixel_width[sel]
    all_widths.append(widths)
    area = int(crop.sum())
    mean_w = float(widths.mean()) if widths.size else 0.0
    med_w = float(np.median(widths)) if widths.size else 0.0
    max_w = float(widths.max()) if widths.size else 0.0

    # cells = enclosed 4-connected background regions
    holes = ndi.binary_fill_holes(crop) & ~crop
    hl, nh = ndi.label(holes)
    cell_areas = np.bincount(hl.ravel(), minlength=nh + 1)[1:] if nh else np.zeros(0, int)
    cell_areas = cell_areas[cell_areas >= int(min_cell_area_px)]
    n_cells = int(cell_areas.size)
    cell_size = float(math.sqrt(float(np.median(cell_areas))) + mean_w) if n_cells else None

    angle = float(np.degrees(seg_axes[li]) % 180.0)
    if angle >= 180.0 - 1e-9:
      angle = 0.0
    if n_cells >= int(min_cells):
      orient = "block_alligator"
    else:
      along_x = angle <= 45.0 or angle >= 135.0
      if driving_direction == "y":
        orient = "transverse" if along_x else "longitudinal"
      else:
        orient = "longitudinal" if along_x else "transverse"

    n_br = int(np.unique(jlab[sl][crop & (jlab[sl] > 0)]).size)
    n_end = int(np.count_nonzero((deg[sl] == 1) & skel[sl] & crop))
    bbox = (sl[0].start - 1, sl[1].start - 1, sl[0].stop - 1, sl[1].stop - 1)
    seg = CrackSegment(
        label=li, area_px=area, length_px=float(seg_len[li]),
        length_corrected_px=float(seg_len_corr[li]),
        mean_width_px=mean_w, median_width_px=med_w, max_width_px=max_w,
        angle_deg=angle, orientation=orient, n_cells=n_cells, cell_size_px=cell_size,
        n_branch_points=n_br, n_end_points=n_end, bbox=tuple(int(v) for v in bbox),
    )
    if scale is not None:
      severity.add_metric(seg, scale, rules)
    segments.append(seg)

  # ---- image level
  wcat = np.concatenate(all_widths) if all_widths else np.zeros(0)
  len_by: dict[str, float] = {"transverse": 0.0, "longitudinal": 0.0, "block_alligator": 0.0}
  for s in segments:
    len_by[s.orientation] += s.length_px
  if segments:
    orientation = max(len_by, key=lambda k: (len_by[k], -_ORIENT_PRIORITY[k]))
  else:
    orientation = "none"
  total_len = float(sum(s.length_px for s in segments))
  res = CrackQuantification(
      height=int(h_img), width=int(w_img), mm_per_pixel=scale,
      n_segments=len(segments), area_px=int(sum(s.area_px for s in segments)),
      length_px=total_len,
      length_corrected_px=float(sum(s.length_corrected_px for s in segments)),
      mean_width_px=float(wcat.mean()) if wcat.size else 0.0,
      median_width_px=float(np.median(wcat)) if wcat.size else 0.0,
      max_width_px=float(wcat.max()) if wcat.size else 0.0,
      orientation=orientation, length_by_orientation_px=len_by, segments=segments,
      conventions=dict(_CONVENTIONS),
  )
  if scale is not None:
    res.length_mm = res.length_px * scale
    res.length_corrected_mm = res.length_corrected_px * scale
    res.mean_width_mm = res.mean_width_px * scale
    res.median_width_mm = res.median_width_px * scale
    res.max_width_mm = res.max_width_px * scale
    res.area_m2 = res.area_px * (scale / 1000.0) ** 2
    area_img = float(h_img * w_img) * (scale / 1000.0) ** 2
    survey = survey_area_m2 if survey_area_m2 is not None else area_img
    res.jtg = severity.jtg_summary(segments, survey, rules)
  return res


def quantify_cracks_dict(
    mask: np.ndarray, mm_per_pixel: float | None = None, **kwargs: Any
) -> dict[str, Any]:
  """`quantify_cracks` as a JSON-serialisable `dict`."""
  return quantify_cracks(mask, mm_per_pixel, **kwargs).to_dict()


_CONVENTIONS: dict[str, str] = {
    "length": (
        "sum of 8-connected skeleton edge lengths (4-neighbour 1, diagonal sqrt(2) unless "
        "bridged by a common 4-neighbour) + per free end the distance from the end pixel centre "
        "to the mask edge along the local tangent (capped at DT+1); chain-code bias up to +8.2% "
        "at 22.5 deg"),
    "length_corrected": (
        "as length, but every skeleton edge divided by the chain-code factor "
        "max(|cos t|,|sin t|) + (sqrt(2)-1) min(|cos t|,|sin t|) of the local tangent angle t"),
    "width": (
        "per skeleton pixel clip(h+ + h-, 2*DT-1, 2*DT+1), h+- = distance from the pixel centre "
        "to the first background pixel along the two normals, averaged over 9 rays shifted along "
        "the tangent by -1..1 px (exact for axis-aligned bars of any width); statistics over "
        "skeleton pixels farther than DT(j)+1+tangent_radius_px from the nearest junction / "
        "free-end pixel j"),
    "area": "crack pixels after removing 8-connected specks smaller than min_segment_px",
    "segments": "8-connected components after speck removal",
    "orientation": (
        "block_alligator if >= min_cells enclosed cells (4-connected holes >= min_cell_area_px); "
        "else transverse if the skeleton principal axis is within 45 deg (inclusive) of the "
        "axis perpendicular to the driving direction (x for driving_direction='y'), else "
        "longitudinal; image level: class with the largest total length"),
    "cell_size": "sqrt(median cell area) + segment mean width",
    "border": "pixels outside the image are background",
    "jtg": (
        "our reading of JTG 5210-2018 (asphalt), see crackjax/measurement/severity.py; numbers "
        "not verified against the official text; 1 mm floor on the segment mean width"),
}

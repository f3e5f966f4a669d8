"""Host-side crack segmentation metrics computed in ONE pass over a dataset.

Pure numpy / scipy / scikit-image; no JAX.  Feed an accumulator image by image::

    acc = CrackMetricAccumulator()                       # grid k/100, op. threshold 0.5
    for stem, prob, mask in loader:                      # prob [H, W] float in [0, 1]
        acc.update(prob, mask, stem=stem)                # mask [H, W] bool / {0, 1}
    res = acc.result(threshold=0.5)                      # dict, JSON-serialisable
    acc.write_csv("per_image.csv", threshold=0.5)

`crackjax.evaluation.full_images.predict_split` yields exactly such `(stem, prob, mask)` triples.

Why the verbose key names
-------------------------
Crack papers use mutually incompatible definitions of "ODS", "OIS", "AP", "F1"
(pooled vs per-image, with or without tolerance, which threshold grid, ...).  Every
key of `CrackMetricAccumulator.result` therefore says how it was computed
(`_pooled` / `_mean_per_image` / `_grid100` / `_r2px` ...), and the
`conventions` sub-dict of the result spells the full definition out per key.

Conventions (all of them)
-------------------------
Threshold grid
    `n_steps` (default 100) gives `n_steps + 1` thresholds
    `t_k = k / n_steps, k = 0 .. n_steps` (`0.00, 0.01, ..., 1.00`).  A pixel is
    predicted *crack* at `t_k` iff `prob >= t_k`, compared in float64 after the
    exact upcast of `prob`.  Internally each pixel is quantised to the score
    `s = max{k : prob >= t_k}` (an integer in `0 .. n_steps`) and
    `prob >= t_k  <=>  s >= k`.  Per image we keep two histograms of `s`
    (GT-crack pixels and GT-background pixels, `2 x (n_steps + 1)` int64), so the
    whole threshold sweep, pooled and per image, comes from one pass.
    `t_0 = 0` predicts every pixel as crack (recall 1), which closes the PR curve
    the same way scikit-learn does.
0/0 conventions (no NaN is ever returned) -- the same as `crackjax.evaluation.confusion.scores`
    A ratio whose denominator is 0 is **1.0**: precision with no predicted pixel is 1
    (no false alarm), recall with no GT crack pixel is 1 (nothing missed), likewise
    relaxed precision / recall and clDice's Tprec / Tsens.  F1 is computed as
    `2TP / (2TP + FP + FN)` and IoU as `TP / (TP + FP + FN)`; they are 1 only when
    `TP = FP = FN = 0` (prediction and GT both empty) -- with no prediction but some
    GT, P = 1, R = 0 and F1 = IoU = 0.  Background IoU `TN / (TN + FP + FN)` is 1 when
    there is no background in GT or prediction.  F1-type harmonic means built from
    (P, R) (relaxed F1, clDice) are `2PR / (P + R)`, 0 when `P + R = 0`.
    (scikit-learn equivalent: `zero_division=1.0`; sklearn's default gives 0.)
    Means over an empty set of images are 0.0 (the accompanying `n_*` count tells
    you so).
Pooled vs per image
    `_pooled`: TP/FP/FN/TN summed over all pixels of all images, ratio taken
    once.  `_mean_per_image`: the metric per image (with the 0/0 rule above),
    then the arithmetic mean over images.
ODS (`ods_f1_pooled_grid{n}`)
    max over the grid of the *pooled* F1; ties go to the lowest threshold.
OIS (`ois_f1_mean_per_image_grid{n}`)
    for each image the best F1 over the grid (ties -> lowest threshold), then the
    **mean of these per-image best F1** over all images (NOT the BSDS variant that
    sums the per-image-best counts).  An image without GT crack scores F1 = 1 at a
    threshold that predicts nothing and 0 at one that predicts anything, so its best
    F1 is 1 unless some pixel has `prob == 1.0` (`t_n = 1` still predicts it).
    Because that inflates OIS on datasets with many crack-free images, the variant
    `ois_f1_mean_crack_images_grid{n}` averages over images with >= 1 GT crack
    pixel only.
AP (`ap_pooled_stepwise_grid{n}`)
    step-wise area under the pooled PR curve on the grid, exactly the estimator of
    `sklearn.metrics.average_precision_score`:
    `AP = sum_k (R_k - R_{k+1}) * P_k` over `k = n .. 0` with `R_{n+1} = 0`
    (no interpolation, no trapezoid).  It equals sklearn's value computed on the
    quantised scores `s` (i.e. up to the grid quantisation of `prob`).  With no
    GT crack pixel in the whole dataset AP is 0.0 (sklearn also returns 0 there).
Tolerance-relaxed P / R / F1 (`relaxed_*_r{r}px_pooled`)
    at the operating threshold, for each radius `r` (default 2 and 5 px):
    a predicted crack pixel `p` counts as correct iff some GT crack pixel `g`
    has Euclidean distance `||p - g||_2 <= r` (pixel centres, unit spacing,
    inclusive); a GT crack pixel counts as recalled iff some predicted pixel lies
    within `<= r`.  Distances come from `scipy.ndimage.distance_transform_edt`
    restricted to the image (pixels outside the image do not exist).  This is the
    *many-to-one* relaxation (a GT pixel may justify any number of predicted pixels;
    no bipartite one-to-one matching as in the BSDS `correspondPixels` benchmark,
    and no thinning of the prediction), so it is >= the matched variant.
    Relaxed precision = sum over images of correct predicted pixels / sum of
    predicted pixels; relaxed recall likewise with GT pixels (pooled);
    relaxed F1 = harmonic mean of the two pooled values.
clDice (`cldice_pooled`, `cldice_mean_per_image`)
    Shit et al., CVPR 2021: `Tprec = |S(P) & G| / |S(P)|`,
    `Tsens = |S(G) & P| / |S(G)|`, `clDice = 2 Tprec Tsens / (Tprec + Tsens)`
    with `S = skimage.morphology.skeletonize` (2-D, Zhang's method) of the binary
    prediction (at the operating threshold) and of the GT.  `_pooled` sums the four
    pixel counts over the dataset before forming Tprec / Tsens; `_mean_per_image`
    averages per-image clDice.

Operating thresholds
--------------------
Tolerance metrics and clDice need the spatial layout of the binary prediction, which
the histograms do not keep.  They are therefore accumulated during `update` at
the *operating thresholds* given to the constructor (default `(0.5,)`); each must
lie on the grid.  `CrackMetricAccumulator.result` accepts only those thresholds
(a `ValueError` otherwise); the threshold-free sweep (ODS, OIS, AP, PR curve) is
available for any of them, and `CrackMetricAccumulator.pr_curve` /
`CrackMetricAccumulator.pooled_counts` give pixel metrics at every grid
threshold.
"""

from __future__ import annotations

import csv
import os
from typing import Any
from typing import Iterable
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

from crackjax import errors


__all__ = [
    "CrackMetricAccumulator",
    "quantize_probs",
    "threshold_grid",
]


# --------------------------------------------------------------------------- helpers


def threshold_grid(n_steps: int = 100) -> np.ndarray:
  """Thresholds `t_k = k / n_steps` for `k = 0 .. n_steps`; float64 `[n_steps + 1]`."""
  if int(n_steps) < 1:
    raise ValueError(f"n_steps must be >= 1, got {n_steps}")
  n = int(n_steps)
  return np.arange(n + 1, dtype=np.float64) / n


def quantize_probs(prob: np.ndarray, n_steps: int = 100) -> np.ndarray:
  """Quantise probabilities to grid scores.

  Args:
      prob: any shape, float, values in `[0, 1]`.
      n_steps: grid resolution (thresholds `k / n_steps`).

  Returns:
      int16 array of the same shape with `s = max{k : prob >= k / n_steps}`
      (float64 comparison), so that `prob >= t_k` iff `s >= k`.
  """
  grid = threshold_grid(n_steps)
  p = np.asarray(prob, dtype=np.float64)
  s = np.searchsorted(grid, p, side="right") - 1
  return np.clip(s, 0, len(grid) - 1).astype(np.int16)


def _ratio(num: float, den: float) -> float:
  """`num / den`; 1.0 when `den == 0` (module 0/0 convention)."""
  return float(num) / float(den) if den > 0 else 1.0


def _hmean(a: float, b: float) -> float:
  """Harmonic mean `2ab / (a + b)`, 0.0 when `a + b == 0`."""
  s = a + b
  return 0.0 if s <= 0 else 2.0 * a * b / s


def _curve_from_hist(hist: np.ndarray) -> dict[str, np.ndarray]:
  """Confusion counts and metrics at every grid threshold.

  Args:
      hist: int64 `[..., 2, K]`; `hist[..., 1, s]` = # GT-crack pixels with
          score `s`, `hist[..., 0, s]` = # GT-background pixels with score `s`.
          Leading dims (e.g. images) are kept.

  Returns:
      dict of arrays `[..., K]` indexed by threshold index `k`: int64 tp, fp,
      fn, tn and float64 precision, recall, f1, iou, iou_bg (module 0/0 rule).
  """
  hist = np.asarray(hist, dtype=np.int64)
  pos = hist[..., 1, :]
  neg = hist[..., 0, :]
  tp = np.flip(np.cumsum(np.flip(pos, -1), -1), -1)  # tp[k] = #{GT crack, s >= k}
  fp = np.flip(np.cumsum(np.flip(neg, -1), -1), -1)
  n_pos = pos.sum(-1, keepdims=True)
  n_neg = neg.sum(-1, keepdims=True)
  fn = n_pos - tp
  tn = n_neg - fp
  n_pred = tp + fp

  def div(num: np.ndarray, den: np.ndarray, fill: np.ndarray | float) -> np.ndarray:
    return np.where(den > 0, num / np.maximum(den, 1), fill).astype(np.float64)

  prec = div(tp, n_pred, 1.0)
  rec = div(tp, np.broadcast_to(n_pos, tp.shape), 1.0)
  f1 = div(2 * tp, 2 * tp + fp + fn, 1.0)
  iou = div(tp, tp + fp + fn, 1.0)
  iou_bg = div(tn, tn + fp + fn, 1.0)
  return {
      "tp": tp, "fp": fp, "fn": fn, "tn": tn,
      "precision": prec, "recall": rec, "f1": f1, "iou": iou, "iou_bg": iou_bg,
  }


def _stepwise_ap(precision: np.ndarray, recall: np.ndarray, n_pos: int) -> float:
  """sklearn-style step-wise AP: `sum_k (R_k - R_{k+1}) P_k`, `R_{K} = 0`.

  `precision`/`recall` are indexed by ascending threshold index k.
  """
  if n_pos == 0:
    return 0.0
  r_next = np.append(recall[1:], 0.0)
  return float(np.sum((recall - r_next) * precision))


def _distance_to(mask: np.ndarray) -> np.ndarray:
  """Euclidean distance of every pixel to the nearest True pixel of `mask`.

  `inf` everywhere when `mask` is empty (scipy would return garbage there).
  """
  if not mask.any():
    return np.full(mask.shape, np.inf)
  return ndi.distance_transform_edt(~mask)


def _fmt_r(r: float) -> str:
  return f"r{r:g}px"


# --------------------------------------------------------------------------- accumulator


class CrackMetricAccumulator:
  """One-pass accumulator for crack segmentation metrics (see module docstring).

  Args:
      n_steps: threshold grid resolution; thresholds `k / n_steps`, k = 0..n_steps.
      thresholds: operating thresholds (on the grid) at which the spatial metrics
          (tolerance-relaxed P/R/F1, clDice) are accumulated and at which
          `result` may be evaluated.
      tolerances_px: radii `r` (pixels) for the relaxed metrics.

  Memory: `2 * (n_steps + 1)` int64 per image plus a few counters, i.e. ~1.6 kB
  per image with the default grid.
  """

  def __init__(
      self,
      n_steps: int = 100,
      thresholds: Sequence[float] = (0.5,),
      tolerances_px: Sequence[float] = (2.0, 5.0),
  ) -> None:
    self.n_steps = int(n_steps)
    self.grid = threshold_grid(self.n_steps)
    self.thresholds: tuple[float, ...] = tuple(float(t) for t in thresholds)
    self._op_k: tuple[int, ...] = tuple(sorted({self._grid_index(t) for t in self.thresholds}))
    self.tolerances_px: tuple[float, ...] = tuple(float(r) for r in tolerances_px)
    if any(r < 0 for r in self.tolerances_px):
      raise ValueError("tolerances must be >= 0")
    self._hists: list[np.ndarray] = []  # each int64 [2, n_steps + 1]
    self._stems: list[str] = []
    # per operating threshold: list (over images) of int64 count vectors, layout:
    # [n_pred, n_gt, (tp_prec_r, tp_rec_r) for r in tolerances,
    #  |S(P)|, |S(P) & G|, |S(G)|, |S(G) & P|]
    self._spatial: dict[int, list[np.ndarray]] = {k: [] for k in self._op_k}

  # ------------------------------------------------------------------ grid helpers
  def _grid_index(self, t: float) -> int:
    k = int(round(float(t) * self.n_steps))
    if not (0 <= k <= self.n_steps) or abs(float(t) * self.n_steps - k) > 1e-6:
      raise ValueError(
          f"threshold {t} is not on the grid k/{self.n_steps}, k=0..{self.n_steps}"
      )
    return k

  @property
  def n_images(self) -> int:
    """Number of images accumulated so far."""
    return len(self._hists)

  @property
  def _grid_tag(self) -> str:
    return f"grid{self.n_steps}"

  # ------------------------------------------------------------------ accumulation
  def update(self, prob: np.ndarray, mask: np.ndarray, stem: str | None = None) -> None:
    """Add one image.

    Args:
        prob: `[H, W]` float (any float dtype), crack probability in `[0, 1]`
            (values within 1e-6 outside are clipped; NaN/inf or anything further
            outside raises `ValueError` -- e.g. logits passed by mistake).
        mask: `[H, W]` bool or integer with values in `{0, 1}`; 1 = crack.
        stem: identifier for the per-image record (default: running index).
    """
    prob = np.asarray(prob)
    mask = np.asarray(mask)
    if prob.ndim != 2 or prob.shape != mask.shape:
      raise ValueError(
          f"need prob and mask of equal shape [H, W], got {prob.shape} and {mask.shape}")
    if not np.issubdtype(prob.dtype, np.floating):
      raise TypeError(f"prob must be floating point, got {prob.dtype}")
    if prob.size and not np.all(np.isfinite(prob)):
      raise ValueError("prob contains NaN or inf")
    if prob.size and (prob.min() < -1e-6 or prob.max() > 1 + 1e-6):
      raise ValueError(f"prob outside [0, 1]: [{prob.min()}, {prob.max()}] (logits?)")
    if mask.dtype != np.bool_:
      if mask.size and (mask.min() < 0 or mask.max() > 1):
        raise ValueError("mask must be bool or contain only {0, 1} (got e.g. a 0/255 mask?)")
      if np.issubdtype(mask.dtype, np.floating) and mask.size and np.any(mask % 1 != 0):
        raise ValueError("mask must contain only {0, 1}")
    gt = mask.astype(bool)
    s = quantize_probs(np.clip(prob, 0.0, 1.0), self.n_steps)

    k1 = self.n_steps + 1
    flat = s.ravel().astype(np.int64) + k1 * gt.ravel()
    hist = np.bincount(flat, minlength=2 * k1).reshape(2, k1).astype(np.int64)
    self._hists.append(hist)
    self._stems.append(str(stem) if stem is not None else f"{len(self._stems):06d}")

    if self._op_k:
      dist_to_gt = _distance_to(gt)
      skel_gt = skeletonize(gt) if gt.any() else np.zeros_like(gt)
      n_skel_gt = int(skel_gt.sum())
      for k in self._op_k:
        pred = s >= k
        dist_to_pred = _distance_to(pred)
        vals: list[int] = [int(pred.sum()), int(gt.sum())]
        for r in self.tolerances_px:
          vals.append(int(np.count_nonzero(pred & (dist_to_gt <= r))))
          vals.append(int(np.count_nonzero(gt & (dist_to_pred <= r))))
        skel_p = skeletonize(pred) if pred.any() else np.zeros_like(pred)
        vals += [
            int(skel_p.sum()), int(np.count_nonzero(skel_p & gt)),
            n_skel_gt, int(np.count_nonzero(skel_gt & pred)),
        ]
        self._spatial[k].append(np.asarray(vals, dtype=np.int64))

  def update_batch(
      self, probs: np.ndarray, masks: np.ndarray, stems: Iterable[str] | None = None
  ) -> None:
    """Add a batch: `probs` `[B, H, W]` float, `masks` `[B, H, W]` bool/{0,1}."""
    probs = np.asarray(probs)
    masks = np.asarray(masks)
    if probs.ndim != 3 or probs.shape != masks.shape:
      raise ValueError(f"need [B, H, W] arrays of equal shape, got {probs.shape}, {masks.shape}")
    stem_list = list(stems) if stems is not None else [None] * probs.shape[0]
    if len(stem_list) != probs.shape[0]:
      raise ValueError("len(stems) != batch size")
    for p, m, st in zip(probs, masks, stem_list):
      self.update(p, m, st)

  # ------------------------------------------------------------------ sweeps
  def _pooled_hist(self) -> np.ndarray:
    if not self._hists:
      raise ValueError("no images accumulated")
    return np.sum(np.stack(self._hists), axis=0)

  def pr_curve(self) -> dict[str, list[float]]:
    """Pooled metrics at every grid threshold (ascending `t`).

    Returns:
        dict with lists of length `n_steps + 1`: `threshold`, `precision`,
        `recall`, `f1`, `iou_crack` (0/0 rule of the module) and int lists
        `tp`, `fp`, `fn`, `tn`.
    """
    c = _curve_from_hist(self._pooled_hist())
    return {
        "threshold": self.grid.tolist(),
        "precision": c["precision"].tolist(),
        "recall": c["recall"].tolist(),
        "f1": c["f1"].tolist(),
        "iou_crack": c["iou"].tolist(),
        "tp": [int(v) for v in c["tp"]],
        "fp": [int(v) for v in c["fp"]],
        "fn": [int(v) for v in c["fn"]],
        "tn": [int(v) for v in c["tn"]],
    }

  def pooled_counts(self, threshold: float) -> dict[str, int]:
    """Dataset-pooled `tp, fp, fn, tn` at a grid threshold."""
    k = self._grid_index(threshold)
    c = _curve_from_hist(self._pooled_hist())
    return {name: int(c[name][k]) for name in ("tp", "fp", "fn", "tn")}

  # ------------------------------------------------------------------ results
  def _spatial_block(self, k: int) -> np.ndarray:
    if k not in self._spatial:
      ops = ", ".join(f"{t:g}" for t in self.thresholds)
      raise ValueError(
          f"threshold {self.grid[k]:g} is not an operating threshold ({ops}); "
          "pass it to CrackMetricAccumulator(thresholds=...) before accumulating"
      )
    return np.stack(self._spatial[k])  # [N, n_fields]

  def _per_image_arrays(self, k: int) -> dict[str, np.ndarray]:
    """Per-image metrics `[N]` at threshold index `k` and per-image best F1."""
    hists = np.stack(self._hists)  # [N, 2, K]
    c = _curve_from_hist(hists)  # each [N, K]
    best = np.argmax(c["f1"], axis=1)  # first max -> lowest threshold
    rows = np.arange(hists.shape[0])
    return {
        "precision": c["precision"][:, k],
        "recall": c["recall"][:, k],
        "f1": c["f1"][:, k],
        "iou": c["iou"][:, k],
        "n_gt": hists[:, 1].sum(axis=1),
        "n_pred": c["tp"][:, k] + c["fp"][:, k],
        "best_f1": c["f1"][rows, best],
        "best_t": self.grid[best],
    }

  def _spatial_per_image(self, sp: np.ndarray) -> dict[str, np.ndarray]:
    n_pred, n_gt = sp[:, 0], sp[:, 1]
    out: dict[str, np.ndarray] = {}
    for j, r in enumerate(self.tolerances_px):
      tp_p, tp_r = sp[:, 2 + 2 * j], sp[:, 3 + 2 * j]
      p = np.array([_ratio(a, b) for a, b in zip(tp_p, n_pred)])
      rr = np.array([_ratio(a, b) for a, b in zip(tp_r, n_gt)])
      out[f"relaxed_f1_{_fmt_r(r)}"] = np.array([_hmean(a, b) for a, b in zip(p, rr)])
    o = 2 + 2 * len(self.tolerances_px)
    sp_n, sp_in, sg_n, sg_in = sp[:, o], sp[:, o + 1], sp[:, o + 2], sp[:, o + 3]
    tprec = np.array([_ratio(a, b) for a, b in zip(sp_in, sp_n)])
    tsens = np.array([_ratio(a, b) for a, b in zip(sg_in, sg_n)])
    out["cldice"] = np.array([_hmean(a, b) for a, b in zip(tprec, tsens)])
    return out

  def result(self, threshold: float = 0.5) -> dict[str, Any]:
    """All metrics as a JSON-serialisable dict (floats, ints, strings).

    Args:
        threshold: one of the operating thresholds given to the constructor.

    Returns:
        dict; threshold-dependent keys refer to `threshold`; sweep keys
        (`ods_*`, `ois_*`, `ap_*`) are threshold-free.  `conventions` maps
        every metric key to the exact definition used.
    """
    k = self._grid_index(threshold)
    sp = self._spatial_block(k)
    g = self._grid_tag
    hist = self._pooled_hist()
    c = _curve_from_hist(hist)
    n_pos = int(hist[1].sum())
    per = self._per_image_arrays(k)
    n_img = self.n_images
    crack_imgs = per["n_gt"] > 0
    n_crack_imgs = int(crack_imgs.sum())

    def mean(a: np.ndarray) -> float:
      return float(np.mean(a)) if a.size else 0.0

    j = int(np.argmax(c["f1"]))
    res: dict[str, Any] = {
        "n_images": n_img,
        "n_images_with_crack": n_crack_imgs,
        "threshold": float(self.grid[k]),
        "counts_pooled": {name: int(c[name][k]) for name in ("tp", "fp", "fn", "tn")},
        "precision_pooled": float(c["precision"][k]),
        "recall_pooled": float(c["recall"][k]),
        "f1_pooled": float(c["f1"][k]),
        "iou_crack_pooled": float(c["iou"][k]),
        "miou_2class_pooled": float(0.5 * (c["iou"][k] + c["iou_bg"][k])),
        "f1_mean_per_image": mean(per["f1"]),
        "iou_crack_mean_per_image": mean(per["iou"]),
        f"ods_f1_pooled_{g}": float(c["f1"][j]),
        f"ods_threshold_pooled_{g}": float(self.grid[j]),
        f"ods_precision_pooled_{g}": float(c["precision"][j]),
        f"ods_recall_pooled_{g}": float(c["recall"][j]),
        f"ois_f1_mean_per_image_{g}": mean(per["best_f1"]),
        f"ois_f1_mean_crack_images_{g}": mean(per["best_f1"][crack_imgs]),
        f"ap_pooled_stepwise_{g}": _stepwise_ap(c["precision"], c["recall"], n_pos),
    }

    tot = sp.sum(axis=0)
    n_pred, n_gt = int(tot[0]), int(tot[1])
    for jr, r in enumerate(self.tolerances_px):
      rt = _fmt_r(r)
      p = _ratio(tot[2 + 2 * jr], n_pred)
      rc = _ratio(tot[3 + 2 * jr], n_gt)
      res[f"relaxed_precision_{rt}_pooled"] = p
      res[f"relaxed_recall_{rt}_pooled"] = rc
      res[f"relaxed_f1_{rt}_pooled"] = _hmean(p, rc)
    o = 2 + 2 * len(self.tolerances_px)
    tprec = _ratio(tot[o + 1], tot[o])
    tsens = _ratio(tot[o + 3], tot[o + 2])
    res["cldice_tprec_pooled"] = tprec
    res["cldice_tsens_pooled"] = tsens
    res["cldice_pooled"] = _hmean(tprec, tsens)
    res["cldice_mean_per_image"] = mean(self._spatial_per_image(sp)["cldice"])
    res["conventions"] = self._conventions(res)
    return res

  def _conventions(self, res: dict[str, Any]) -> dict[str, str]:
    g = self._grid_tag
    t = f"{res['threshold']:g}"
    at = f"at prob >= {t}"
    grid = (f"t_k = k/{self.n_steps}, k = 0..{self.n_steps} ({self.n_steps + 1} thresholds), "
            "crack iff prob >= t_k")
    zero = "0/0 -> 1.0 (as crackjax.evaluation.confusion.scores; sklearn zero_division=1.0)"
    both = "1.0 if TP=FP=FN=0"
    conv: dict[str, str] = {
        "threshold": f"operating threshold; a pixel is crack iff prob >= {t}",
        "counts_pooled": f"pixel TP/FP/FN/TN summed over all images {at}",
        "precision_pooled": f"TP/(TP+FP), counts pooled over all pixels and images, {at}; {zero}",
        "recall_pooled": f"TP/(TP+FN), pooled, {at}; {zero}",
        "f1_pooled": f"2TP/(2TP+FP+FN), pooled, {at}; {both}",
        "iou_crack_pooled": f"TP/(TP+FP+FN) of the crack class, pooled, {at}; {both}",
        "miou_2class_pooled": (
            f"mean of crack IoU and background IoU TN/(TN+FP+FN), pooled, {at}"),
        "f1_mean_per_image": f"per-image 2TP/(2TP+FP+FN) {at} ({both}), mean over images",
        "iou_crack_mean_per_image": f"per-image crack IoU {at} ({both}), mean over images",
        f"ods_f1_pooled_{g}": f"max over grid [{grid}] of pooled F1; ties -> lowest threshold",
        f"ods_threshold_pooled_{g}": "grid threshold attaining the ODS F1",
        f"ods_precision_pooled_{g}": "pooled precision at the ODS threshold",
        f"ods_recall_pooled_{g}": "pooled recall at the ODS threshold",
        f"ois_f1_mean_per_image_{g}": (
            f"mean over ALL images of the per-image best F1 over the grid [{grid}] (ties -> "
            "lowest threshold); crack-free image: F1=1 at thresholds predicting nothing, "
            "0 otherwise"),
        f"ois_f1_mean_crack_images_{g}": (
            "as ois_f1_mean_per_image but averaged only over images with >= 1 GT crack pixel "
            "(0.0 if there are none)"),
        f"ap_pooled_stepwise_{g}": (
            f"sum_k (R_k - R_(k+1)) P_k over the pooled PR curve on the grid [{grid}], "
            "R_(n+1)=0; equals sklearn average_precision_score on grid-quantised scores; "
            "0.0 if the dataset has no GT crack pixel"),
        "cldice_tprec_pooled": (
            f"sum|skel(P) & G| / sum|skel(P)| over images, P = prob >= {t}, "
            f"skel = skimage skeletonize (Zhang); {zero}"),
        "cldice_tsens_pooled": (
            f"sum|skel(G) & P| / sum|skel(G)| over images, P = prob >= {t}; {zero}"),
        "cldice_pooled": (
            "harmonic mean of cldice_tprec_pooled and cldice_tsens_pooled (Shit et al. 2021), "
            "0 if both are 0"),
        "cldice_mean_per_image": (
            "per-image clDice (Tprec / Tsens 0/0 -> 1: an image with empty prediction and "
            "empty GT scores 1), mean over images"),
        "n_images": "number of images accumulated",
        "n_images_with_crack": "images with >= 1 GT crack pixel",
    }
    for r in self.tolerances_px:
      rt = _fmt_r(r)
      rule = (
          f"{at}; predicted pixel correct iff a GT crack pixel lies at Euclidean distance "
          f"<= {r:g} px (scipy distance_transform_edt, inside the image); GT pixel recalled iff "
          f"a predicted pixel lies within <= {r:g} px; many-to-one (no one-to-one matching, "
          "no thinning)")
      conv[f"relaxed_precision_{rt}_pooled"] = (
          f"sum correct predicted px / sum predicted px over images; {rule}; {zero}")
      conv[f"relaxed_recall_{rt}_pooled"] = (
          f"sum recalled GT px / sum GT px over images; {rule}; {zero}")
      conv[f"relaxed_f1_{rt}_pooled"] = (
          f"harmonic mean of relaxed_precision_{rt}_pooled and relaxed_recall_{rt}_pooled "
          "(0 if both are 0)")
    return conv

  # ------------------------------------------------------------------ per image
  def per_image_records(self, threshold: float = 0.5) -> list[dict[str, Any]]:
    """One record per image (in update order), JSON/CSV friendly.

    Keys: `stem`, `threshold`, `n_gt_px`, `n_pred_px`, `precision`,
    `recall`, `f1`, `iou_crack` (at `threshold`, module 0/0 convention),
    `best_threshold_grid{n}` / `best_f1_grid{n}` (the image's OIS point,
    ties -> lowest threshold), `relaxed_f1_r{r}px` and `cldice` (per image).
    """
    k = self._grid_index(threshold)
    sp = self._spatial_block(k)
    per = self._per_image_arrays(k)
    sper = self._spatial_per_image(sp)
    g = self._grid_tag
    recs: list[dict[str, Any]] = []
    for i, stem in enumerate(self._stems):
      rec: dict[str, Any] = {
          "stem": stem,
          "threshold": float(self.grid[k]),
          "n_gt_px": int(per["n_gt"][i]),
          "n_pred_px": int(per["n_pred"][i]),
          "precision": float(per["precision"][i]),
          "recall": float(per["recall"][i]),
          "f1": float(per["f1"][i]),
          "iou_crack": float(per["iou"][i]),
          f"best_threshold_{g}": float(per["best_t"][i]),
          f"best_f1_{g}": float(per["best_f1"][i]),
      }
      for key, arr in sper.items():
        rec[key] = float(arr[i])
      recs.append(rec)
    return recs

  def write_csv(self, path: str | os.PathLike[str], threshold: float = 0.5) -> None:
    """Write `per_image_records` to `path` as CSV (header = record keys)."""
    recs = self.per_image_records(threshold)
    if not recs:
      raise ValueError("no images accumulated")
    with errors.writing(os.fspath(path)), open(path, "w", newline="") as f:
      w = csv.DictWriter(f, fieldnames=list(recs[0].keys()))
      w.writeheader()
      w.writerows(recs)

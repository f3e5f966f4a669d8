"""Tests for crackjax.evaluation.crack_metrics against independent references.

References: scikit-learn (pixel metrics, AP), brute force on tiny arrays (threshold
sweep, OIS, tolerance matching by an explicit double loop), clDice by hand.
"""

from __future__ import annotations

import csv
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import average_precision_score
from sklearn.metrics import jaccard_score
from sklearn.metrics import precision_recall_fscore_support

from crackjax.evaluation import confusion
from crackjax.evaluation.crack_metrics import CrackMetricAccumulator
from crackjax.evaluation.crack_metrics import quantize_probs
from crackjax.evaluation.crack_metrics import threshold_grid


# ----------------------------------------------------------------------------- helpers


def _walk_floats(obj: Any) -> list[float]:
  if isinstance(obj, dict):
    return [x for v in obj.values() for x in _walk_floats(v)]
  if isinstance(obj, (list, tuple)):
    return [x for v in obj for x in _walk_floats(v)]
  if isinstance(obj, float):
    return [obj]
  return []


def _assert_clean(res: dict[str, Any]) -> None:
  """No NaN/inf anywhere, JSON round-trips, every metric has a convention."""
  for x in _walk_floats(res):
    assert math.isfinite(x)
  json.loads(json.dumps(res, allow_nan=False))
  metric_keys = [k for k in res if k != "conventions"]
  for k in metric_keys:
    assert k in res["conventions"], k


def _random_dataset(seed: int, n: int = 4, shape: tuple[int, int] = (24, 31)):
  rng = np.random.default_rng(seed)
  probs, masks = [], []
  for _ in range(n):
    m = np.zeros(shape, dtype=np.uint8)
    # a few random thick "cracks"
    for _ in range(rng.integers(1, 4)):
      r = rng.integers(0, shape[0])
      c0, c1 = sorted(rng.integers(0, shape[1], size=2))
      m[r : r + rng.integers(1, 3), c0 : c1 + 1] = 1
    noise = rng.random(shape)
    p = np.clip(0.55 * m + 0.6 * noise - 0.1, 0, 1).astype(np.float32)
    probs.append(p)
    masks.append(m)
  return probs, masks


def _brute_relaxed(pred: np.ndarray, gt: np.ndarray, r: float) -> tuple[int, int]:
  """Explicit double loop: (#pred px with a GT px within r, #GT px with a pred px within r)."""
  pp = list(zip(*np.nonzero(pred)))
  gg = list(zip(*np.nonzero(gt)))
  r2 = r * r
  tp_p = sum(1 for (a, b) in pp if any((a - c) ** 2 + (b - d) ** 2 <= r2 for (c, d) in gg))
  tp_r = sum(1 for (c, d) in gg if any((a - c) ** 2 + (b - d) ** 2 <= r2 for (a, b) in pp))
  return tp_p, tp_r


def _f1_counts(tp: int, fp: int, fn: int) -> float:
  d = 2 * tp + fp + fn
  return 1.0 if d == 0 else 2 * tp / d


# ----------------------------------------------------------------------------- grid


def test_threshold_grid_and_quantisation_semantics() -> None:
  g = threshold_grid(100)
  assert g.shape == (101,) and g[0] == 0.0 and g[-1] == 1.0 and g[50] == 0.5
  rng = np.random.default_rng(1)
  p = rng.random(2000).astype(np.float32)
  p[:6] = [0.0, 1.0, 0.5, 0.29, 0.01, np.nextafter(np.float32(0.5), np.float32(0))]
  s = quantize_probs(p, 100)
  for k in range(101):
    np.testing.assert_array_equal(s >= k, p.astype(np.float64) >= g[k])
  assert s[0] == 0 and s[1] == 100 and s[2] == 50 and s[5] == 49


# ----------------------------------------------------------------------------- sklearn


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pooled_pixel_metrics_match_sklearn(seed: int) -> None:
  probs, masks = _random_dataset(seed)
  acc = CrackMetricAccumulator(thresholds=(0.3, 0.5))
  for p, m in zip(probs, masks):
    acc.update(p, m)
  y = np.concatenate([m.ravel() for m in masks]).astype(int)
  for t in (0.3, 0.5):
    yhat = np.concatenate([(p >= t).ravel() for p in probs]).astype(int)
    res = acc.result(t)
    _assert_clean(res)
    pr, rc, f1, _ = precision_recall_fscore_support(y, yhat, average="binary", zero_division=1.0)
    assert res["precision_pooled"] == pytest.approx(pr, abs=1e-12)
    assert res["recall_pooled"] == pytest.approx(rc, abs=1e-12)
    assert res["f1_pooled"] == pytest.approx(f1, abs=1e-12)
    assert res["iou_crack_pooled"] == pytest.approx(jaccard_score(y, yhat), abs=1e-12)
    assert res["miou_2class_pooled"] == pytest.approx(
        jaccard_score(y, yhat, average="macro", labels=[0, 1]), abs=1e-12
    )
    # per-image mean F1 against sklearn per image
    f1s = [
        precision_recall_fscore_support(
            m.ravel(), (p >= t).ravel(), average="binary", zero_division=1.0)[2]
        for p, m in zip(probs, masks)
    ]
    assert res["f1_mean_per_image"] == pytest.approx(np.mean(f1s), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 3])
def test_ap_matches_sklearn_on_quantised_scores(seed: int) -> None:
  probs, masks = _random_dataset(seed, n=5)
  acc = CrackMetricAccumulator()
  for p, m in zip(probs, masks):
    acc.update(p, m)
  y = np.concatenate([m.ravel() for m in masks])
  s = np.concatenate([quantize_probs(p).ravel() for p in probs])
  ref = average_precision_score(y, s)
  assert acc.result()["ap_pooled_stepwise_grid100"] == pytest.approx(ref, abs=1e-12)
  # and close to the un-quantised value (grid quantisation error only)
  ref_raw = average_precision_score(y, np.concatenate([p.ravel() for p in probs]))
  assert acc.result()["ap_pooled_stepwise_grid100"] == pytest.approx(ref_raw, abs=0.03)


def test_ap_constant_scores_equals_prevalence() -> None:
  m = np.zeros((10, 10), np.uint8)
  m[2:4] = 1
  acc = CrackMetricAccumulator()
  acc.update(np.zeros((10, 10), np.float32), m)
  res = acc.result()
  assert res["ap_pooled_stepwise_grid100"] == pytest.approx(0.2)
  ref = average_precision_score(m.ravel(), np.zeros(100))
  assert res["ap_pooled_stepwise_grid100"] == pytest.approx(ref)


# ----------------------------------------------------------------------------- brute-force sweeps


@pytest.mark.parametrize("n_steps", [10, 100])
def test_pr_curve_ods_ois_brute_force(n_steps: int) -> None:
  probs, masks = _random_dataset(7, n=4, shape=(9, 11))
  # add a crack-free image that predicts nothing at high thresholds
  probs.append(np.full((9, 11), 0.3, np.float32))
  masks.append(np.zeros((9, 11), np.uint8))
  acc = CrackMetricAccumulator(n_steps=n_steps)
  for p, m in zip(probs, masks):
    acc.update(p, m)
  grid = threshold_grid(n_steps)
  curve = acc.pr_curve()
  f1_pooled = []
  per_img_best = []
  for k, t in enumerate(grid):
    tp = fp = fn = 0
    for p, m in zip(probs, masks):
      for (pv, mv) in zip(p.ravel(), m.ravel()):
        pred = float(pv) >= t
        tp += pred and mv == 1
        fp += pred and mv == 0
        fn += (not pred) and mv == 1
    assert (curve["tp"][k], curve["fp"][k], curve["fn"][k]) == (tp, fp, fn)
    f1_pooled.append(_f1_counts(tp, fp, fn))
  res = acc.result(0.5)
  kbest = int(np.argmax(f1_pooled))
  assert res[f"ods_f1_pooled_grid{n_steps}"] == pytest.approx(f1_pooled[kbest])
  assert res[f"ods_threshold_pooled_grid{n_steps}"] == pytest.approx(grid[kbest])
  for p, m in zip(probs, masks):
    f1s = []
    for t in grid:
      pred = p >= t
      tp = int(np.sum(pred & (m == 1)))
      fp = int(np.sum(pred & (m == 0)))
      fn = int(np.sum(~pred & (m == 1)))
      f1s.append(_f1_counts(tp, fp, fn))
    per_img_best.append((max(f1s), grid[int(np.argmax(f1s))]))
  best = [b for b, _ in per_img_best]
  assert res[f"ois_f1_mean_per_image_grid{n_steps}"] == pytest.approx(np.mean(best))
  assert res[f"ois_f1_mean_crack_images_grid{n_steps}"] == pytest.approx(
      np.mean([b for (b, _), m in zip(per_img_best, masks) if m.any()])
  )
  recs = acc.per_image_records(0.5)
  for rec, (b, t) in zip(recs, per_img_best):
    assert rec[f"best_f1_grid{n_steps}"] == pytest.approx(b)
    assert rec[f"best_threshold_grid{n_steps}"] == pytest.approx(t)
  # crack-free image: best F1 is 1 (reached at the lowest threshold predicting nothing)
  assert recs[-1][f"best_f1_grid{n_steps}"] == 1.0
  assert recs[-1][f"best_threshold_grid{n_steps}"] == pytest.approx(grid[grid > 0.3][0])


# ----------------------------------------------------------------------------- tolerance


def test_relaxed_metrics_hand_example() -> None:
  gt = np.zeros((12, 12), np.uint8)
  gt[5, 1:11] = 1  # 10 GT pixels on row 5
  prob = np.zeros((12, 12), np.float32)
  prob[7, 1:6] = 0.9  # 2 rows below: within r=2, not within r=1.5
  prob[0, 1:3] = 0.9  # 5 rows above: only within r=5
  acc = CrackMetricAccumulator(tolerances_px=(1.5, 2.0, 5.0))
  acc.update(prob, gt)
  res = acc.result()
  assert res["relaxed_precision_r1.5px_pooled"] == 0.0
  assert res["relaxed_precision_r2px_pooled"] == pytest.approx(5 / 7)
  assert res["relaxed_recall_r2px_pooled"] == pytest.approx(5 / 10)
  assert res["relaxed_f1_r2px_pooled"] == pytest.approx(2 * (5 / 7) * 0.5 / (5 / 7 + 0.5))
  # r = 5: row 0 px at cols 1,2 are 5 px above row 5 -> correct; GT recalled where any pred within 5
  assert res["relaxed_precision_r5px_pooled"] == 1.0
  # GT (5, c) recalled iff some pred lies within 5: preds on row 7, cols 1..5, reach cols
  # up to 5 + 4 = 9
  # (dist^2 = 4 + dc^2 <= 25 -> |dc| <= 4); preds on row 0 (dist^2 = 25 + dc^2) only dc = 0
  assert res["relaxed_recall_r5px_pooled"] == pytest.approx(9 / 10)


@settings(max_examples=40, deadline=None)
@given(
    gt=hnp.arrays(np.bool_, (7, 9), elements=st.booleans()),
    pred=hnp.arrays(np.bool_, (7, 9), elements=st.booleans()),
    r=st.sampled_from([0.0, 1.0, 1.5, 2.0, 3.0]),
)
def test_relaxed_matches_double_loop(gt: np.ndarray, pred: np.ndarray, r: float) -> None:
  acc = CrackMetricAccumulator(tolerances_px=(r,))
  acc.update(pred.astype(np.float32), gt)
  res = acc.result()
  tp_p, tp_r = _brute_relaxed(pred, gt, r)
  n_p, n_g = int(pred.sum()), int(gt.sum())
  p_ref = tp_p / n_p if n_p else 1.0  # 0/0 -> 1
  r_ref = tp_r / n_g if n_g else 1.0
  rt = f"r{r:g}px"
  assert res[f"relaxed_precision_{rt}_pooled"] == pytest.approx(p_ref)
  assert res[f"relaxed_recall_{rt}_pooled"] == pytest.approx(r_ref)
  if r == 0.0:  # zero tolerance degenerates to exact pixel precision / recall
    assert res[f"relaxed_precision_{rt}_pooled"] == pytest.approx(res["precision_pooled"])
    assert res[f"relaxed_recall_{rt}_pooled"] == pytest.approx(res["recall_pooled"])
  _assert_clean(res)


def test_relaxed_pooled_over_images() -> None:
  gts, preds = [], []
  rng = np.random.default_rng(5)
  for _ in range(3):
    gts.append(rng.random((8, 8)) < 0.15)
    preds.append(rng.random((8, 8)) < 0.15)
  acc = CrackMetricAccumulator(tolerances_px=(2.0,))
  for p, g in zip(preds, gts):
    acc.update(p.astype(np.float32), g)
  sums = np.array([_brute_relaxed(p, g, 2.0) for p, g in zip(preds, gts)]).sum(0)
  res = acc.result()
  n_pred = sum(p.sum() for p in preds)
  assert res["relaxed_precision_r2px_pooled"] == pytest.approx(sums[0] / n_pred)
  assert res["relaxed_recall_r2px_pooled"] == pytest.approx(sums[1] / sum(g.sum() for g in gts))


# ----------------------------------------------------------------------------- clDice


def test_cldice_by_hand_lines() -> None:
  # 1-px lines are their own skeletons, so everything can be counted by hand.
  gt = np.zeros((12, 14), np.uint8)
  gt[5, 2:12] = 1  # 10 px
  prob = np.zeros((12, 14), np.float32)
  prob[5, 2:7] = 1.0  # 5 px on the GT line
  prob[9, 2:7] = 1.0  # 5 px false line
  acc = CrackMetricAccumulator()
  acc.update(prob, gt)
  res = acc.result()
  # Tprec = |S(P) & G| / |S(P)| = 5/10 ; Tsens = |S(G) & P| / |S(G)| = 5/10
  assert res["cldice_tprec_pooled"] == pytest.approx(0.5)
  assert res["cldice_tsens_pooled"] == pytest.approx(0.5)
  assert res["cldice_pooled"] == pytest.approx(0.5)
  # second image: perfect prediction of a plus-shaped 1-px crack (9 + 9 - 1 = 17 px)
  gt2 = np.zeros((11, 11), np.uint8)
  gt2[5, 1:10] = 1
  gt2[1:10, 5] = 1
  acc.update(gt2.astype(np.float32), gt2)
  res = acc.result()
  # pooled: Tprec = (5 + 17) / (10 + 17), Tsens = (5 + 17) / (10 + 17)
  t = 22 / 27
  assert res["cldice_pooled"] == pytest.approx(t)
  assert res["cldice_mean_per_image"] == pytest.approx((0.5 + 1.0) / 2)


def test_cldice_thick_prediction_covering_thin_gt() -> None:
  gt = np.zeros((15, 30), np.uint8)
  gt[7, 3:27] = 1
  prob = np.zeros((15, 30), np.float32)
  prob[4:11, 1:29] = 0.8  # 7-px thick bar containing the GT line
  acc = CrackMetricAccumulator()
  acc.update(prob, gt)
  res = acc.result()
  assert res["cldice_tsens_pooled"] == 1.0  # GT skeleton entirely inside P
  assert res["cldice_tprec_pooled"] > 0.8  # bar skeleton runs (mostly) on row 7
  assert res["precision_pooled"] == pytest.approx(24 / (7 * 28))  # pixel precision is poor


# ----------------------------------------------------------------------------- edge cases


def test_empty_gt_and_no_prediction_is_perfect() -> None:
  acc = CrackMetricAccumulator()
  acc.update(np.zeros((8, 8), np.float32), np.zeros((8, 8), bool), stem="empty")
  res = acc.result()
  _assert_clean(res)
  for key in (
      "precision_pooled", "recall_pooled", "f1_pooled", "iou_crack_pooled", "miou_2class_pooled",
      "f1_mean_per_image", "relaxed_f1_r2px_pooled", "relaxed_f1_r5px_pooled",
      "cldice_pooled", "cldice_mean_per_image", "ois_f1_mean_per_image_grid100",
  ):
    assert res[key] == 1.0, key
  assert res["ap_pooled_stepwise_grid100"] == 0.0  # no positives: AP defined as 0 (like sklearn)
  assert res["ois_f1_mean_crack_images_grid100"] == 0.0 and res["n_images_with_crack"] == 0
  rec = acc.per_image_records()[0]
  assert rec["stem"] == "empty" and rec["f1"] == 1.0 and rec["iou_crack"] == 1.0


def test_empty_gt_with_false_positives() -> None:
  acc = CrackMetricAccumulator()
  prob = np.zeros((8, 8), np.float32)
  prob[2, 2:5] = 0.9
  acc.update(prob, np.zeros((8, 8), np.uint8))
  res = acc.result()
  _assert_clean(res)
  for key in ("precision_pooled", "f1_pooled", "iou_crack_pooled", "relaxed_precision_r2px_pooled",
              "relaxed_f1_r2px_pooled", "cldice_tprec_pooled", "cldice_pooled"):
    assert res[key] == 0.0, key
  # nothing to find -> recall-type ratios are 0/0 -> 1
  for key in ("recall_pooled", "relaxed_recall_r2px_pooled", "cldice_tsens_pooled"):
    assert res[key] == 1.0, key
  # background IoU = 61 / 64 -> mIoU = (0 + 61/64) / 2
  assert res["miou_2class_pooled"] == pytest.approx(61 / 128)
  # OIS: threshold 0.91 predicts nothing -> best F1 1
  assert res["ois_f1_mean_per_image_grid100"] == 1.0


def test_all_zero_prediction_with_gt() -> None:
  gt = np.zeros((8, 8), np.uint8)
  gt[3, :] = 1
  acc = CrackMetricAccumulator()
  acc.update(np.zeros((8, 8), np.float32), gt)
  res = acc.result()
  _assert_clean(res)
  # nothing predicted: precision-type ratios are 0/0 -> 1, recall 0, F1 / IoU / clDice 0
  assert res["precision_pooled"] == 1.0 and res["recall_pooled"] == 0.0 and res["f1_pooled"] == 0.0
  assert res["iou_crack_pooled"] == 0.0
  assert res["relaxed_precision_r2px_pooled"] == 1.0 and res["relaxed_recall_r2px_pooled"] == 0.0
  assert res["relaxed_f1_r2px_pooled"] == 0.0
  assert res["cldice_tprec_pooled"] == 1.0 and res["cldice_pooled"] == 0.0
  # ODS at t = 0 (everything predicted): F1 = 2*8 / (2*8 + 56)
  assert res["ods_threshold_pooled_grid100"] == 0.0
  assert res["ods_f1_pooled_grid100"] == pytest.approx(16 / 72)


def test_sklearn_zero_division_conventions_per_image() -> None:
  """Per-image P/R/F1/IoU equal sklearn with zero_division=1.0 (our 0/0 convention)."""
  rng = np.random.default_rng(11)
  acc = CrackMetricAccumulator()
  cases = []
  for i in range(12):
    gt = (rng.random((6, 6)) < 0.2) if i % 3 else np.zeros((6, 6), bool)
    prob = (rng.random((6, 6)) * (i % 4 != 0)).astype(np.float32)
    cases.append((prob, gt))
    acc.update(prob, gt)
  for (prob, gt), rec in zip(cases, acc.per_image_records()):
    pred = prob >= 0.5
    p, r, f, _ = precision_recall_fscore_support(
        gt.ravel(), pred.ravel(), average="binary", zero_division=1.0
    )
    assert (rec["precision"], rec["recall"], rec["f1"]) == pytest.approx((p, r, f))
    ref_iou = jaccard_score(gt.ravel(), pred.ravel(), zero_division=1.0)
    assert rec["iou_crack"] == pytest.approx(ref_iou)


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            hnp.arrays(np.float32, (5, 6), elements=st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0])),
            hnp.arrays(np.bool_, (5, 6), elements=st.booleans()),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_property_no_nan_and_bounds(data: list[tuple[np.ndarray, np.ndarray]]) -> None:
  acc = CrackMetricAccumulator(thresholds=(0.0, 0.5, 1.0))
  for p, m in data:
    acc.update(p, m)
  for t in (0.0, 0.5, 1.0):
    res = acc.result(t)
    _assert_clean(res)
    for k, v in res.items():
      if isinstance(v, float) and k != "threshold" and "threshold" not in k:
        assert 0.0 <= v <= 1.0 + 1e-12, (k, v)
    # F1 never exceeds max(P, R) and OIS >= per-image F1 at any fixed threshold
    assert res["f1_pooled"] <= max(res["precision_pooled"], res["recall_pooled"]) + 1e-12
    assert res["ois_f1_mean_per_image_grid100"] >= res["f1_mean_per_image"] - 1e-12
    assert res["ods_f1_pooled_grid100"] >= res["f1_pooled"] - 1e-12
  for rec in acc.per_image_records(0.5):
    for v in rec.values():
      if isinstance(v, float):
        assert math.isfinite(v)


@settings(max_examples=25, deadline=None)
@given(
    a=hnp.arrays(np.float32, (4, 5), elements=st.floats(0, 1, width=32)),
    b=hnp.arrays(np.float32, (3, 5), elements=st.floats(0, 1, width=32)),
    ma=hnp.arrays(np.bool_, (4, 5), elements=st.booleans()),
    mb=hnp.arrays(np.bool_, (3, 5), elements=st.booleans()),
)
def test_property_pooling_equals_concatenation(a, b, ma, mb) -> None:
  """Pooled metrics over [A, B] equal those of one image stacking A, gap, B."""
  acc = CrackMetricAccumulator(tolerances_px=(2.0,))
  acc.update(a, ma)
  acc.update(b, mb)
  gap = 3  # > tolerance, so no cross-image matches; gap adds TN only
  big_p = np.concatenate([a, np.zeros((gap, 5), np.float32), b])
  big_m = np.concatenate([ma, np.zeros((gap, 5), bool), mb])
  one = CrackMetricAccumulator(tolerances_px=(2.0,))
  one.update(big_p, big_m)
  r1, r2 = acc.result(), one.result()
  # (ODS / AP are not compared: at t = 0 the gap pixels become false positives)
  for key in ("precision_pooled", "recall_pooled", "f1_pooled", "iou_crack_pooled",
              "relaxed_precision_r2px_pooled", "relaxed_recall_r2px_pooled"):
    assert r1[key] == pytest.approx(r2[key], abs=1e-12), key


# ----------------------------------------------------------------------------- API


def test_agrees_with_project_metrics_scores() -> None:
  """Same numbers and 0/0 conventions as crackjax.evaluation.confusion (the trainer's evaluation)."""
  metrics = confusion
  probs, masks = _random_dataset(9, n=3)
  probs.append(np.zeros((24, 31), np.float32))  # GT but no prediction
  masks.append(masks[0])
  probs.append(np.zeros((24, 31), np.float32))  # nothing at all
  masks.append(np.zeros((24, 31), np.uint8))
  acc = CrackMetricAccumulator()
  totals = {"tp": 0.0, "fp": 0.0, "fn": 0.0}
  for p, m in zip(probs, masks):
    acc.update(p, m)
    for k, v in metrics.confusion_counts_np(p, m, 0.5).items():
      totals[k] += v
  for (p, m), rec in zip(zip(probs, masks), acc.per_image_records()):
    ref = metrics.scores(metrics.confusion_counts_np(p, m, 0.5))
    assert (rec["precision"], rec["recall"], rec["f1"], rec["iou_crack"]) == pytest.approx(
        (ref["precision"], ref["recall"], ref["f1"], ref["iou"]))
  ref = metrics.scores(totals)
  res = acc.result()
  got = (res["precision_pooled"], res["recall_pooled"], res["f1_pooled"], res["iou_crack_pooled"])
  assert got == pytest.approx((ref["precision"], ref["recall"], ref["f1"], ref["iou"]))



def test_records_csv_and_batch(tmp_path) -> None:
  probs, masks = _random_dataset(3, n=3)
  acc = CrackMetricAccumulator()
  acc.update_batch(np.stack(probs), np.stack(masks), stems=["a", "b", "c"])
  path = tmp_path / "per_image.csv"
  acc.write_csv(path)
  with open(path) as f:
    rows = list(csv.DictReader(f))
  assert [r["stem"] for r in rows] == ["a", "b", "c"]
  for row, rec in zip(rows, acc.per_image_records()):
    assert set(row) == set(rec)
    assert float(row["f1"]) == pytest.approx(rec["f1"])
    assert float(row["best_threshold_grid100"]) == pytest.approx(rec["best_threshold_grid100"])
  assert acc.n_images == 3
  assert acc.pooled_counts(0.5) == acc.result()["counts_pooled"]


def test_input_validation() -> None:
  acc = CrackMetricAccumulator()
  z = np.zeros((4, 4), np.float32)
  with pytest.raises(ValueError):
    acc.update(z, np.full((4, 4), 255, np.uint8))  # 0/255 mask
  with pytest.raises(ValueError):
    acc.update(z + 3.0, np.zeros((4, 4), bool))  # logits
  with pytest.raises(ValueError):
    acc.update(np.full((4, 4), np.nan, np.float32), np.zeros((4, 4), bool))
  with pytest.raises(ValueError):
    acc.update(z, np.zeros((4, 5), bool))
  with pytest.raises(ValueError):
    acc.result()  # nothing accumulated
  acc.update(z, np.zeros((4, 4), bool))
  with pytest.raises(ValueError):
    acc.result(0.555)  # off grid
  with pytest.raises(ValueError):
    acc.result(0.3)  # on grid, but not an operating threshold
  with pytest.raises(ValueError):
    CrackMetricAccumulator(thresholds=(0.123,))
  # a tiny overshoot from float arithmetic is clipped, not rejected
  acc.update(np.full((4, 4), 1.0 + 1e-7, np.float32), np.ones((4, 4), bool))
  assert acc.result()["recall_pooled"] == 1.0

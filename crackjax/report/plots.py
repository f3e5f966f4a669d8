"""Figures written at the end of a run (host side, matplotlib's Agg backend; no display needed)."""

from __future__ import annotations

import matplotlib
import numpy as np

from crackjax import errors


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _series(events: list[dict], key: str):
  pts = [(e["step"], e[key]) for e in events if key in e]
  return [p[0] for p in pts], [p[1] for p in pts]


def _finish_over_steps(fig, low, ylabel: str, path: str) -> None:
  """The bottom panel of a [0, 1] quantity over steps labelled; the figure written to `path` and closed."""
  low.set_ylim(0, 1)
  low.set_ylabel(ylabel)
  low.set_xlabel("step")
  low.legend(loc="best")
  _save(fig, path)


def prf_trajectory(events: list[dict], path: str, title: str = "") -> None:
  """Precision and recall per balance interval on top; loss weights and positive-patch rate beneath.

  Args:
    events: the run's metrics.jsonl events (`balance/*` and `data/pos_fraction` keys are used).
    path: where to write the PNG.
  """
  fig, (top, mid, low) = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
  for key, label in (("balance/precision", "precision"), ("balance/recall", "recall")):
    top.plot(*_series(events, key), label=label, marker=".")
  top.plot(*_series(events, "balance/prf"), label="PRF", color="grey", lw=0.8, ls="--")
  top.axhline(0.0, color="black", lw=0.5)
  top.set_ylabel("training interval")
  top.legend(loc="best")
  top.set_title(title or "Precision and recall flowing toward each other")
  for key, label in (("balance/pos_weight", "w_pos"), ("balance/neg_weight", "w_neg")):
    mid.plot(*_series(events, key), label=label)
  mid.set_yscale("log")
  mid.set_ylabel("loss weight")
  mid.legend(loc="best")
  low.plot(*_series(events, "balance/pos_rate"), label="rate q (after update)")
  low.plot(*_series(events, "data/pos_fraction"), label="realised positive share", ls=":", marker=".")
  _finish_over_steps(fig, low, "positive patches", path)


def pr_curves(reports: list[dict], path: str, grid_steps: int) -> None:
  """The pooled PR curve of each evaluation report (`python -m crackjax.evaluate`'s `<split>.json`),
  marking the ODS point and the operating threshold, over iso-F1 contours."""
  fig, ax = plt.subplots(figsize=(6, 6))
  r = np.linspace(0.01, 1, 200)
  for f in (0.2, 0.4, 0.6, 0.8):
    p = f * r / (2 * r - f)
    ok = (p > 0) & (p <= 1)
    ax.plot(r[ok], p[ok], color="0.85", lw=0.8, zorder=0)
    ax.annotate(f"F1={f}", (r[ok][-1], p[ok][-1]), color="0.6", fontsize=7, ha="right", va="bottom")
  g = f"grid{grid_steps}"
  for rep in reports:
    curve = rep["pr_curve"]
    line, = ax.plot(curve["recall"], curve["precision"], lw=1.5,
                    label=(f"{rep['split']} (step {rep['checkpoint_step']}): AP {rep[f'ap_pooled_stepwise_{g}']:.3f}, "
                           f"ODS F1 {rep[f'ods_f1_pooled_{g}']:.3f}"))
    ax.plot(rep[f"ods_recall_pooled_{g}"], rep[f"ods_precision_pooled_{g}"], "*", ms=12,
            color=line.get_color(), label=f"  ODS at t={rep[f'ods_threshold_pooled_{g}']:g}")
    ax.plot(rep["recall"], rep["precision"], "o", mfc="none", color=line.get_color(),
            label=f"  operating point t={rep['threshold']:g} (F1 {rep['f1']:.3f})")
  ax.set_xlim(0, 1)
  ax.set_ylim(0, 1.02)
  ax.set_xlabel("recall (pixels pooled over the split)")
  ax.set_ylabel("precision")
  ax.set_title("Crack pixels: precision-recall")
  ax.legend(loc="best", fontsize=8)
  _save(fig, path)


def _save(fig, path: str) -> None:
  """Writes `fig` to `path` as PNG (a full disk fails naming the path) and frees it."""
  fig.tight_layout()
  try:
    with errors.writing(path):
      fig.savefig(path, dpi=100)
  finally:
    plt.close(fig)


def training_curves(events: list[dict], path: str, title: str = "") -> None:
  """Training loss, training P/R/F1 (per log interval) and validation P/R/F1 against the step.

  Args:
    events: the run's metrics.jsonl events (`train/*` and `val/*` keys are used).
    path: where to write the PNG.
  """
  fig, (top, mid, low) = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
  top.plot(*_series(events, "train/loss"), label="train loss")
  top.set_ylabel("loss")
  top.set_yscale("log")
  top.legend(loc="best")
  top.set_title(title or "Training")
  for key, label in (("train/precision", "precision"), ("train/recall", "recall"), ("train/f1", "F1")):
    mid.plot(*_series(events, key), label=label, lw=1)
  mid.set_ylim(0, 1)
  mid.set_ylabel("training batches")
  mid.legend(loc="best")
  for key, label in (("val/precision", "precision"), ("val/recall", "recall"), ("val/f1", "F1"),
                     ("val/iou", "IoU")):
    low.plot(*_series(events, key), label=label, marker="o")
  _finish_over_steps(fig, low, "validation split", path)

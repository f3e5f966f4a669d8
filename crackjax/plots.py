"""Figures written at the end of a run (host side, matplotlib's Agg backend; no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _series(events: list[dict], key: str):
  pts = [(e["step"], e[key]) for e in events if key in e]
  return [p[0] for p in pts], [p[1] for p in pts]


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
  low.set_ylim(0, 1)
  low.set_ylabel("positive patches")
  low.set_xlabel("step")
  low.legend(loc="best")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)

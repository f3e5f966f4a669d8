"""What the training log says while a run trains, with or without the progress bar.

Every `log_every` steps one line (step, loss, train P/R/F1, steps/s, ETA) and after every validation
one line with the val metrics and the best so far; the progress bar (when shown) carries the latest
loss, train F1 and val F1. A log interval in which the batches held no crack pixel and the model
predicted none has no F1 (0/0): it is shown as `-`, not as a perfect 1.000. Lines are written through
absl logging, clearing the bar around them, so a cluster log (launchers pass progress_bar=False) and an
interactive terminal read the same.
"""

from __future__ import annotations

import time

import tqdm
from absl import logging

from crackjax import config_base


def duration(seconds: float) -> str:
  """`3 h 05 min`, `12 min`, `45 s`."""
  seconds = max(0.0, float(seconds))
  if seconds < 90:
    return f"{seconds:.0f} s"
  minutes = round(seconds / 60)
  return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


# The pixel counts in each score's denominator: a score whose counts are all 0 is 0/0, shown as "-".
_DENOMINATOR = {"precision": ("tp", "fp"), "recall": ("tp", "fn"), "f1": ("tp", "fp", "fn"),
                "iou": ("tp", "fp", "fn")}


def score_text(scores: dict, key: str) -> str:
  """`0.655`, or `-` where the score is 0/0 (e.g. F1 of batches with no crack and no prediction).

  Args:
    scores: `precision`, `recall`, `f1`, `iou` and the pooled pixel counts `tp`, `fp`, `fn` (without
      the counts the score is shown as it is).
    key: one of `precision`, `recall`, `f1`, `iou`.
  """
  counts = [scores.get(k) for k in _DENOMINATOR[key]]
  if all(c is not None for c in counts) and sum(counts) == 0:
    return "-"
  return f"{scores[key]:.3f}"


def _strip(scalars: dict, prefix: str) -> dict:
  return {k[len(prefix) + 1:]: v for k, v in scalars.items() if k.startswith(prefix + "/")}


def config_lines(config) -> list[str]:
  """The config as its difference from `config_base.base()`, one `key: value (default ...)` per line."""
  return [f"  {k}: {b!r} (default {a!r})" for k, a, b in config_base.diff_from_base(config)]


class ProgressLog:
  """The log lines and the bar of one training process (process 0 logs; see the module docstring)."""

  def __init__(self, total_steps: int, start_step: int, bar: tqdm.tqdm | None = None,
               enabled: bool = True):
    self.total = total_steps
    self.bar = bar if bar is not None and not bar.disable else None
    self.enabled = enabled
    self._t0, self._step0 = None, start_step   # rate for the ETA: since the first logged step
    self._val_f1 = None
    self._best = None

  def _emit(self, line: str) -> None:
    if not self.enabled:
      return
    if self.bar is not None:
      with tqdm.tqdm.external_write_mode():
        logging.info("%s", line)
    else:
      logging.info("%s", line)

  def _postfix(self, scalars: dict) -> None:
    if self.bar is None:
      return
    parts = {"loss": f"{scalars['train/loss']:.4f}", "f1": score_text(_strip(scalars, "train"), "f1")}
    if self._val_f1 is not None:
      parts["val_f1"] = f"{self._val_f1:.3f}"
    self.bar.set_postfix(parts, refresh=False)

  def train(self, step: int, scalars: dict) -> None:
    """One log interval ended at `step`; `scalars` holds its `train/*` metrics (train.py's)."""
    now = time.time()
    if self._t0 is None:   # the first interval includes compiling: its own rate only
      self._t0, self._step0 = now, step
      rate = scalars.get("train/steps_per_s", 0.0)
    else:
      rate = (step - self._step0) / max(now - self._t0, 1e-9)
    eta = duration((self.total - step) / rate) if rate > 0 else "?"
    self._postfix(scalars)
    train = _strip(scalars, "train")
    self._emit(f"step {step}/{self.total} ({100 * step / self.total:.0f}%): loss {train['loss']:.4f}, "
               f"train P {score_text(train, 'precision')} R {score_text(train, 'recall')} F1 "
               f"{score_text(train, 'f1')}, {train.get('steps_per_s', 0.0):.2f} steps/s, ETA {eta}")

  def val(self, step: int, val: dict) -> None:
    """A validation at `step`: `val` holds precision, recall, f1, iou (pooled over the val split)."""
    self._val_f1 = val["f1"]
    if self._best is None or val["f1"] > self._best[0]:
      self._best = (val["f1"], step)
    if self.bar is not None:
      self.bar.set_postfix({**(self.bar.postfix and _parse_postfix(self.bar.postfix) or {}),
                            "val_f1": f"{val['f1']:.3f}"}, refresh=False)
    self._emit(f"validation at step {step}: P {score_text(val, 'precision')} R "
               f"{score_text(val, 'recall')} F1 {score_text(val, 'f1')} IoU {score_text(val, 'iou')} "
               f"(best F1 {self._best[0]:.3f} at step {self._best[1]})")


def _parse_postfix(text: str) -> dict:
  """tqdm's postfix string `a=1, b=2` back into a dict."""
  return dict(part.split("=", 1) for part in text.split(", ") if "=" in part)

"""A toy plant for the PRF controller: a crack detector whose skill grows while the controller moves it.

Crack pixels score x ~ N(+mu, 1) and background pixels x ~ N(-mu, 1); a network trained with plain BCE
at pixel prior p outputs the calibrated logit 2 mu x + logit(p), and a loss-weight ratio w_pos / w_neg
and a positive-patch rate q add the shift c = log(w_pos / w_neg) + logit(q) - logit(pi) (prior shift, pi
the natural share of positive patches). The network does not follow c at once: the shift it has learnt
moves a fraction `lag` of the way toward c per interval, and its skill mu ramps up over training. So at
the start it predicts no crack whatever the weights, the situation in which a pure integrator winds up.

Each interval yields pixel counts with binomial noise, either on the batches as trained on (their crack
share grows with q) or reweighted to the natural distribution as the train step does for
`balance.measure='natural'`. Used by tests/test_controller.py with `crackjax.balance.prf.update` in the loop.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.special
import scipy.stats

from crackjax.balance import prf


@dataclasses.dataclass
class Plant:
  natural_rate: float = 0.1                 # pi: share of positive patches on the grid
  crack_share_in_positive: float = 0.014    # crack pixels per pixel of a positive patch
  final_skill: float = 2.5                  # mu once trained
  skill_intervals: float = 8.0              # mu reaches 63% of final_skill after this many intervals
  lag: float = 0.3                          # share of the way to the asked-for shift covered per interval
  pixels: int = 8 * 20 * 256 * 256          # pixels per interval (batch 8, interval 20, 256^2)
  seed: int = 0

  def __post_init__(self):
    self.learnt_shift, self.k = 0.0, 0
    self.rng = np.random.default_rng(self.seed)

  @property
  def pixel_prior(self) -> float:
    return self.natural_rate * self.crack_share_in_positive

  def skill(self) -> float:
    return self.final_skill * (1.0 - np.exp(-(self.k + 1) / self.skill_intervals))

  def rates(self, shift: float | None = None) -> tuple[float, float]:
    """(recall, false-positive rate) per pixel at the learnt `shift` (the current one by default)."""
    c = self.learnt_shift if shift is None else shift
    mu = self.skill()
    t = -(scipy.special.logit(self.pixel_prior) + c) / (2 * mu)   # crack iff x >= t
    return float(scipy.stats.norm.sf(t - mu)), float(scipy.stats.norm.sf(t + mu))

  def natural_pr(self) -> tuple[float, float]:
    """Expected precision and recall on whole images (the natural distribution)."""
    recall, fpr = self.rates()
    tp, fp = self.pixel_prior * recall, (1 - self.pixel_prior) * fpr
    return (tp / (tp + fp) if tp + fp > 0 else 1.0), recall

  def interval(self, state: prf.BalanceState, measure: str) -> prf.BalanceState:
    """One interval of training under `state`: returns `state` with the interval's counts accumulated
    (as the train step would), then advances the network one interval."""
    q = float(scipy.special.expit(state.pos_logit))
    recall, fpr = self.rates()
    pos_pixels = int(self.pixels * q)                    # pixels of positive patches in the batches
    crack = int(pos_pixels * self.crack_share_in_positive)
    tp = self.rng.binomial(crack, recall)
    fp_pos = self.rng.binomial(pos_pixels - crack, fpr)  # false alarms inside positive patches
    fp_neg = self.rng.binomial(self.pixels - pos_pixels, fpr)
    w_pos = w_neg = 1.0
    if measure == "natural":   # the step's importance weights (prf.natural_slot_weights)
      w_pos, w_neg = self.natural_rate / q, (1 - self.natural_rate) / (1 - q)
    counts = (tp * w_pos, (fp_pos * w_pos + fp_neg * w_neg), (crack - tp) * w_pos)
    state = prf.accumulate(state, *(np.float32(c) for c in counts), 0.0, 0.0)
    asked = (float(state.log_pos_weight - state.log_neg_weight) + float(state.pos_logit)
             - float(scipy.special.logit(self.natural_rate)))
    self.learnt_shift += self.lag * (asked - self.learnt_shift)
    self.k += 1
    return state


def run(rule: prf.BalanceRule, intervals: int, measure: str = "batch", **plant_kw) -> list[dict]:
  """The closed loop for `intervals` intervals from the untrained network; one record per interval:
  natural P and R after it, the controller's measured P and R, weights ratio and rate."""
  plant = Plant(**plant_kw)
  state = prf.init(pos_rate=plant.natural_rate, natural_rate=plant.natural_rate)
  out = []
  for _ in range(intervals):
    state = prf.update(plant.interval(state, measure), rule)
    p, r = plant.natural_pr()
    out.append({"P": p, "R": r, "measured_P": float(state.precision), "measured_R": float(state.recall),
                "log_ratio": float(state.log_pos_weight - state.log_neg_weight),
                "rate": float(scipy.special.expit(state.pos_logit)), "scale": float(state.step_scale)})
  return out

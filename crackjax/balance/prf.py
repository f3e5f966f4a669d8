"""Balanced learning by a recurrent adaptive network (RAN): the PRF state and its pure update.

Zhang et al., "Balanced Learning for Road Crack Segmentation", Remote Sensing 2022, 14(14):3275, treat
precision and recall as two bodies at different temperatures. Over each training interval the gap between
them is measured by an adaptive factor, PRF; its sign gives the direction and its size the strength with
which the positive/negative loss weights (feature level) and the positive-patch sampling rate (sample
level) move. Applied again and again, precision and recall flow toward each other.

The paper's formulas are not public, so we define them here (see docs/balanced_learning.md):

    P   = TP / (TP + FP)          (1 when nothing was predicted positive: maximally conservative)
    R   = TP / (TP + FN)          (interval skipped when it saw no positive pixel)
    PRF = (P - R) / (P + R)       ('ratio', default, in [-1, 1])
        | P - R                   ('diff')
        | log(P / R)              ('log_ratio', P and R floored at 1e-6)
    log w_pos += eta_w * u,  log w_neg -= eta_w * u      (clipped to [log w_min, log w_max])
    logit q   += eta_s * u                                (clipped to [logit q_min, logit q_max])

    u = scale * (e_k + kp * (e_k - e_(k-1)))             the move per unit step size; with the defaults u = PRF
    e_k = deadband(d_k),  d_k = beta * d_(k-1) + (1 - beta) * PRF_k   (smoothing beta, dead band delta)
    scale: 1, or with `adaptive_step` x grow while e keeps its sign, x shrink when it flips (in [min, 1])

When P > R the model is too conservative, so positives gain loss weight and positive patches are
sampled more often; when R > P the negatives gain. PRF = 0 changes nothing. The controller options
(kp, smoothing, dead band, adaptive step, warm-up) and where P and R are measured (`measure`: the
resampled training batches, or those batches reweighted to the natural share of positive patches)
are documented with what each did in docs/balanced_learning.md.

This module is pure and imports nothing from data, models or train. `BalanceState` lives inside the
train state, `accumulate` runs on every step and `update` fires in-graph every `interval` steps.
"""

from __future__ import annotations

import dataclasses

import chex
import flax
import jax
import jax.numpy as jnp
import scipy.special

from crackjax import errors


PRF_KINDS = ("ratio", "diff", "log_ratio")
MEASURES = ("batch", "natural", "natural_eval", "val")


@dataclasses.dataclass(frozen=True)
class BalanceRule:
  """Static (hashable) description of how the balance state moves; built from `config.balance`.

  Attributes:
    interval: steps per interval; the update fires after every `interval`-th step.
    prf: one of PRF_KINDS.
    eta_weights: step size of the log loss weights per unit PRF (0 freezes the feature level).
    eta_sampling: step size of the positive-sampling logit per unit PRF (0 freezes the sample level).
    log_weight_bounds: (min, max) of log w_pos and log w_neg.
    logit_bounds: (min, max) of the positive-sampling logit.
    warmup_steps: intervals that close at or before this step measure P, R and PRF but move nothing
      (at initialisation a network says "crack" at random, and PRF then measures noise, not bias).
    measure: where P and R are judged: 'batch' (the resampled training batches as trained on) or
      'natural' (the same pixels, each patch's counts reweighted by pi / q or (1 - pi) / (1 - q), pi the
      natural share of positive patches and q the rate in force: an unbiased estimate of P and R at the
      natural distribution, i.e. on whole images, at no extra cost), or 'natural_eval' (every
      `measure_every`-th step the model as used for inference -- BatchNorm's running averages -- predicts
      the step's whole candidate pool, B positive and B negative patches, whose counts are reweighted
      by 2 pi and 2 (1 - pi) to the natural distribution; one extra forward pass of 2B patches), or
      'val' (the pooled counts of every validation on the full val images, the operating point the
      model is judged at: the trainer calls `update_with_counts` after each validation; the in-graph
      intervals then only track the realised sampling rate).
    measure_every: steps between the measurements of 'natural_eval'.
    kp: proportional gain relative to the integral one (velocity form: each move adds
      kp * (e_k - e_(k-1)) to e_k); 0 is the pure integrator of the paper's description.
    smoothing: beta in [0, 1) of the exponential moving average of PRF across intervals.
    dead_band: |smoothed PRF| below this moves nothing (a balance good enough is left alone).
    adaptive_step: scale the step by `step_grow` while the error keeps its sign and by `step_shrink`
      when it flips (Rprop's rule), within [min_step_scale, 1]: overshoot halves the next step, so the
      operating point is bracketed and converges instead of oscillating at a fixed amplitude.
  """
  interval: int
  prf: str = "ratio"
  eta_weights: float = 0.0
  eta_sampling: float = 0.0
  log_weight_bounds: tuple[float, float] = (-4.6, 4.6)
  logit_bounds: tuple[float, float] = (-4.6, 4.6)
  warmup_steps: int = 0
  measure: str = "batch"
  measure_every: int = 4
  kp: float = 0.0
  smoothing: float = 0.0
  dead_band: float = 0.0
  adaptive_step: bool = False
  step_grow: float = 1.2
  step_shrink: float = 0.5
  min_step_scale: float = 0.05

  def __post_init__(self):
    if self.interval < 1:
      raise errors.UserError(f"config.balance.interval must be >= 1, got {self.interval}.")
    if self.prf not in PRF_KINDS:
      raise errors.UserError(f"config.balance.prf={self.prf!r} is unknown; choose one of {PRF_KINDS}.")
    if self.measure not in MEASURES:
      raise errors.UserError(f"config.balance.measure={self.measure!r} is unknown; choose one of {MEASURES}.")
    for key, value, ok, want in (
        ("measure_every", self.measure_every, self.measure_every >= 1, ">= 1"),
        ("kp", self.kp, self.kp >= 0, ">= 0"),
        ("smoothing", self.smoothing, 0 <= self.smoothing < 1, "in [0, 1)"),
        ("dead_band", self.dead_band, self.dead_band >= 0, ">= 0"),
        ("step_grow", self.step_grow, self.step_grow >= 1, ">= 1"),
        ("step_shrink", self.step_shrink, 0 < self.step_shrink <= 1, "in (0, 1]"),
        ("min_step_scale", self.min_step_scale, 0 < self.min_step_scale <= 1, "in (0, 1]")):
      if not ok:
        raise errors.UserError(f"config.balance.{key} must be {want}, got {value}.")
    for name, (lo, hi) in (("weight", self.log_weight_bounds), ("rate", self.logit_bounds)):
      if not lo <= hi:
        raise errors.UserError(f"config.balance {name} bounds must satisfy min <= max, got ({lo}, {hi}).")


@flax.struct.dataclass
class BalanceState:
  """All float32 scalars; a pytree carried (replicated) in the train state.

  Attributes:
    tp, fp, fn: pixel counts accumulated over the current interval (threshold 0.5, global batch).
    pos_taken, patches_taken: positive patches / all patches trained on in the current interval.
    pos_expected: sum over the interval's steps of (rate in force x patches): the expected pos_taken.
    log_pos_weight, log_neg_weight: log of the BCE loss weights of crack / background pixels.
    pos_logit: logit of q, the probability that a batch slot takes a positive patch.
    precision, recall, prf: values of the last interval that measured something (for logging).
    pos_fraction: realised share of positive patches over the last completed interval.
    expected_fraction: the share the rates in force over that interval asked for.
    updates: number of intervals that moved the state.
    natural_rate: the share of positive patches on the training split's patch grid (constant; the
      rate of uniform sampling, used by `measure='natural'`).
    drive: the smoothed PRF of the last measured interval, before the dead band (the controller's error).
    step_scale: the adaptive step's current multiplier (1 without `adaptive_step`).
  """
  tp: jax.Array
  fp: jax.Array
  fn: jax.Array
  pos_taken: jax.Array
  patches_taken: jax.Array
  pos_expected: jax.Array
  log_pos_weight: jax.Array
  log_neg_weight: jax.Array
  pos_logit: jax.Array
  precision: jax.Array
  recall: jax.Array
  prf: jax.Array
  pos_fraction: jax.Array
  expected_fraction: jax.Array
  updates: jax.Array
  natural_rate: jax.Array
  drive: jax.Array
  step_scale: jax.Array

  @property
  def pos_weight(self) -> jax.Array:
    return jnp.exp(self.log_pos_weight)

  @property
  def neg_weight(self) -> jax.Array:
    return jnp.exp(self.log_neg_weight)

  @property
  def pos_rate(self) -> jax.Array:
    return jax.nn.sigmoid(self.pos_logit)


def logit(q: float) -> float:
  """logit(q) of a rate q, clipped to [1e-6, 1 - 1e-6] first (a rate of 0 or 1 stays finite)."""
  return float(scipy.special.logit(min(max(float(q), 1e-6), 1 - 1e-6)))


def init(pos_weight: float = 1.0, neg_weight: float = 1.0, pos_rate: float = 0.5,
         natural_rate: float | None = None) -> BalanceState:
  """Initial balance state: zero counts, the given loss weights and positive-patch rate.

  `natural_rate` (the patch grid's share of positive patches) defaults to `pos_rate`."""
  if pos_weight <= 0 or neg_weight <= 0:
    raise errors.UserError(f"loss weights must be > 0, got pos={pos_weight}, neg={neg_weight}.")
  natural_rate = pos_rate if natural_rate is None else natural_rate
  for name, rate in (("positive-patch rate", pos_rate), ("natural positive-patch rate", natural_rate)):
    if not 0.0 <= rate <= 1.0:
      raise errors.UserError(f"{name} must lie in [0, 1], got {rate}.")
  f = lambda v: jnp.asarray(v, jnp.float32)
  return BalanceState(
      tp=f(0), fp=f(0), fn=f(0), pos_taken=f(0), patches_taken=f(0), pos_expected=f(0),
      log_pos_weight=f(jnp.log(pos_weight)), log_neg_weight=f(jnp.log(neg_weight)),
      pos_logit=f(logit(pos_rate)), precision=f(0), recall=f(0), prf=f(0),
      pos_fraction=f(pos_rate), expected_fraction=f(pos_rate), updates=f(0),
      natural_rate=f(natural_rate), drive=f(0), step_scale=f(1))


def natural_slot_weights(state: BalanceState, took_positive) -> jax.Array:
  """`[B] float32` weights that turn counts on batches drawn at rate q into counts at the natural rate pi.

  A slot that took its positive candidate stands for pi / q positive patches of the grid, one that took
  its negative candidate for (1 - pi) / (1 - q) negative ones (importance sampling; q and 1 - q are floored
  at 1e-6). With q = pi every weight is 1.
  """
  q = jnp.clip(state.pos_rate, 1e-6, 1.0 - 1e-6)
  pi = state.natural_rate
  return jnp.where(took_positive, pi / q, (1.0 - pi) / (1.0 - q)).astype(jnp.float32)


def natural_pool_weights(state: BalanceState, pool_size: int) -> jax.Array:
  """`[2B] float32` weights of a candidate pool laid out as B positive then B negative patches: 2 pi and
  2 (1 - pi), so that the weighted counts are those of patches drawn at the natural rate pi."""
  half = pool_size // 2
  pi = state.natural_rate
  return jnp.concatenate([jnp.full((half,), 2.0 * pi), jnp.full((pool_size - half,), 2.0 * (1.0 - pi))])


def accumulate(state: BalanceState, tp, fp, fn, pos_taken, patches_taken) -> BalanceState:
  """Adds one step's global counts (scalars) to the interval accumulators."""
  return state.replace(
      tp=state.tp + tp, fp=state.fp + fp, fn=state.fn + fn,
      pos_taken=state.pos_taken + pos_taken, patches_taken=state.patches_taken + patches_taken,
      pos_expected=state.pos_expected + state.pos_rate * patches_taken)


def precision_recall(tp, fp, fn) -> tuple[jax.Array, jax.Array]:
  """Interval precision (1 if nothing predicted positive) and recall (0 if no positive pixel)."""
  precision = jnp.where(tp + fp > 0, tp / jnp.maximum(tp + fp, 1e-12), 1.0)
  recall = jnp.where(tp + fn > 0, tp / jnp.maximum(tp + fn, 1e-12), 0.0)
  return precision, recall


def prf(precision, recall, kind: str = "ratio") -> jax.Array:
  """The adaptive factor: > 0 when precision exceeds recall, 0 when they are equal."""
  if kind == "ratio":
    total = precision + recall
    return jnp.where(total > 0, (precision - recall) / jnp.maximum(total, 1e-12), 0.0)
  if kind == "diff":
    return precision - recall
  if kind == "log_ratio":
    return jnp.log(jnp.maximum(precision, 1e-6)) - jnp.log(jnp.maximum(recall, 1e-6))
  raise ValueError(f"unknown PRF kind {kind!r}; choose one of {PRF_KINDS}.")


def _dead_band(drive, width: float) -> jax.Array:
  return jnp.where(jnp.abs(drive) < width, 0.0, drive) if width > 0 else drive


def update(state: BalanceState, rule: BalanceRule, active=True) -> BalanceState:
  """Closes an interval: measures P, R, PRF and moves weights and rate; resets the accumulators.

  Pure and jit-compatible. An interval with no positive pixel (TP + FN = 0) measures nothing and moves
  nothing (the accumulators are still reset; the controller's memory is kept); neither does one closed
  while `active` is False (the warm-up: P, R and PRF are still measured and logged). The smoothing and
  the comparisons with the previous error start at the first interval that moves.
  """
  chex.assert_rank([state.tp, state.fp, state.fn], 0)
  zero = jnp.zeros_like(state.tp)
  moved = update_with_counts(state, rule, state.tp, state.fp, state.fn, active)
  return moved.replace(
      tp=zero, fp=zero, fn=zero, pos_taken=zero, patches_taken=zero, pos_expected=zero,
      pos_fraction=state.pos_taken / jnp.maximum(state.patches_taken, 1.0),
      expected_fraction=state.pos_expected / jnp.maximum(state.patches_taken, 1.0))


def update_with_counts(state: BalanceState, rule: BalanceRule, tp, fp, fn, active=True) -> BalanceState:
  """One move of the controller from the counts `tp, fp, fn` (scalars); the interval accumulators are
  left as they are. `update` uses it at the end of an interval; with `measure='val'` the trainer calls it
  with every validation's pooled counts."""
  precision, recall = precision_recall(tp, fp, fn)
  factor = prf(precision, recall, rule.prf)
  valid = tp + fn > 0
  factor = jnp.where(valid, factor, 0.0)
  moves = valid & active

  # The controller: smoothed PRF (drive), dead band (error), adaptive step scale, velocity-form PI.
  first = state.updates == 0   # no earlier moving interval: nothing to smooth with or compare against
  drive = jnp.where(first | (rule.smoothing == 0), factor,
                    rule.smoothing * state.drive + (1.0 - rule.smoothing) * factor)
  drive = jnp.where(valid, drive, state.drive)
  error, last_error = _dead_band(drive, rule.dead_band), _dead_band(state.drive, rule.dead_band)
  last_error = jnp.where(first, 0.0, last_error)
  scale = state.step_scale
  if rule.adaptive_step:
    agreement = jnp.sign(error) * jnp.sign(last_error)
    scale = jnp.where(agreement > 0, jnp.minimum(scale * rule.step_grow, 1.0),
                      jnp.where(agreement < 0, jnp.maximum(scale * rule.step_shrink, rule.min_step_scale),
                                scale))
    scale = jnp.where(moves, scale, state.step_scale)
  move = jnp.where(moves, scale * (error + rule.kp * (error - last_error)), 0.0)

  lo_w, hi_w = rule.log_weight_bounds
  lo_q, hi_q = rule.logit_bounds
  log_pos = jnp.clip(state.log_pos_weight + rule.eta_weights * move, lo_w, hi_w)
  log_neg = jnp.clip(state.log_neg_weight - rule.eta_weights * move, lo_w, hi_w)
  logit = jnp.clip(state.pos_logit + rule.eta_sampling * move, lo_q, hi_q)
  # A frozen level keeps its initial value even if it lies outside the bounds.
  if rule.eta_weights == 0:
    log_pos, log_neg = state.log_pos_weight, state.log_neg_weight
  if rule.eta_sampling == 0:
    logit = state.pos_logit
  return state.replace(
      log_pos_weight=log_pos, log_neg_weight=log_neg, pos_logit=logit,
      precision=jnp.where(valid, precision, state.precision),
      recall=jnp.where(valid, recall, state.recall),
      prf=jnp.where(valid, factor, state.prf),
      updates=state.updates + moves.astype(jnp.float32),
      drive=drive, step_scale=scale)


def maybe_update(state: BalanceState, rule: BalanceRule, step: jax.Array) -> BalanceState:
  """`update` when `step` (1-based count of completed steps) closes an interval, else unchanged.

  Selected in-graph with `jnp.where`, so there is no host branch and no recompilation. Intervals that
  close within the warm-up are measured but move nothing.
  """
  closes = (step % rule.interval) == 0
  updated = update(state, rule, active=step > rule.warmup_steps)
  return jax.tree.map(lambda new, old: jnp.where(closes, new, old), updated, state)

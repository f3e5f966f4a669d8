"""The registry of imbalance methods keyed by `config.balance.method`.

A method says three things: the loss, whether the feature level (loss weights) adapts through the
balance state, and how batches are composed at the sample level:

  - 'uniform':  the positive-patch rate stays at the dataset's natural share of positive patches, which
                is exactly uniform sampling over the patch grid;
  - 'fixed':    the rate stays at `config.balance.rumc_pos_rate` (random undersampling of negatives);
  - 'adaptive': the rate starts at `config.balance.init_pos_rate` (natural share if < 0) and moves with PRF.

The losses are in crackjax/balance/losses.py. Adding a method touches this file only.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections

from crackjax import registry
from crackjax.balance import losses
from crackjax.balance import prf


LossFn = Callable[[jax.Array, jax.Array, prf.BalanceState, ml_collections.ConfigDict], jax.Array]


def _state_weighted_bce(logits, labels, state, cfg):
  return losses.weighted_bce(logits, labels, state.pos_weight, state.neg_weight,
                             normalize=cfg.normalize_weights)


@dataclasses.dataclass(frozen=True)
class Method:
  """An imbalance method: its loss, whether weights adapt, and its sampling mode."""
  loss: LossFn
  adapt_weights: bool = False
  sampling: str = "uniform"   # 'uniform' | 'fixed' | 'adaptive'


METHODS = registry.Registry("config.balance.method")
METHODS.register("bce", Method(_state_weighted_bce))
# Initial weights come from the data (inverse frequency) in `initial_balance`; never adapted.
METHODS.register("wbce", Method(_state_weighted_bce))
METHODS.register("focal", Method(lambda lg, lb, s, c: losses.focal(lg, lb, c.focal_alpha, c.focal_gamma)))
METHODS.register("dice", Method(lambda lg, lb, s, c: losses.dice(lg, lb)))
METHODS.register("bce_dice", Method(
    lambda lg, lb, s, c: losses.weighted_bce(lg, lb, 1.0, 1.0) + losses.dice(lg, lb)))
METHODS.register("rao", Method(lambda lg, lb, s, c: losses.weighted_bce(lg, lb, losses.rao_weight(lg), 1.0)))
METHODS.register("rumc", Method(_state_weighted_bce, sampling="fixed"))
METHODS.register("ran", Method(_state_weighted_bce, adapt_weights=True, sampling="adaptive"))
METHODS.register("ran_weights", Method(_state_weighted_bce, adapt_weights=True))
METHODS.register("ran_sampling", Method(_state_weighted_bce, sampling="adaptive"))


def get_method(name: str) -> Method:
  """The method registered as `name` (config.balance.method)."""
  return METHODS.get(name)


def balance_rule(cfg) -> prf.BalanceRule:
  """The static update rule for `cfg` (= config.balance); frozen levels get eta = 0."""
  method = get_method(cfg.method)
  return prf.BalanceRule(
      interval=cfg.interval, prf=cfg.prf,
      eta_weights=cfg.eta_weights if method.adapt_weights else 0.0,
      eta_sampling=cfg.eta_sampling if method.sampling == "adaptive" else 0.0,
      log_weight_bounds=(float(jnp.log(cfg.weight_bounds[0])), float(jnp.log(cfg.weight_bounds[1]))),
      logit_bounds=(prf.logit(cfg.rate_bounds[0]), prf.logit(cfg.rate_bounds[1])),
      warmup_steps=cfg.warmup_steps, measure=cfg.measure, measure_every=cfg.measure_every, kp=cfg.kp,
      smoothing=cfg.smoothing,
      dead_band=cfg.dead_band, adaptive_step=cfg.adaptive_step)


def initial_balance(cfg, natural_pos_rate: float, pixel_pos_fraction: float) -> prf.BalanceState:
  """Initial balance state for `cfg` (= config.balance) given the training data's statistics.

  Args:
    natural_pos_rate: share of positive patches on the patch grid (uniform sampling's rate).
    pixel_pos_fraction: share of crack pixels in the training split.
  """
  method = get_method(cfg.method)
  pos_w, neg_w = cfg.init_pos_weight, cfg.init_neg_weight
  if cfg.method == "wbce":
    pos_w = cfg.wbce_pos_weight if cfg.wbce_pos_weight > 0 else (
        (1.0 - pixel_pos_fraction) / max(pixel_pos_fraction, 1e-6))
    neg_w = 1.0
  elif not method.adapt_weights:
    pos_w, neg_w = 1.0, 1.0
  if method.sampling == "uniform":
    rate = natural_pos_rate
  elif method.sampling == "fixed":
    rate = cfg.rumc_pos_rate
  else:
    rate = cfg.init_pos_rate if cfg.init_pos_rate >= 0 else natural_pos_rate
  return prf.init(pos_weight=pos_w, neg_weight=neg_w, pos_rate=rate, natural_rate=natural_pos_rate)

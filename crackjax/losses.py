"""Pixel losses and the registry of imbalance methods keyed by `config.balance.method`.

A method says three things: the loss, whether the feature level (loss weights) adapts through the
balance state, and how batches are composed at the sample level:

  - 'uniform':  the positive-patch rate stays at the dataset's natural share of positive patches, which
                is exactly uniform sampling over the patch grid;
  - 'fixed':    the rate stays at `config.balance.rumc_pos_rate` (random undersampling of negatives);
  - 'adaptive': the rate starts at `config.balance.init_pos_rate` (natural share if < 0) and moves with PRF.

All losses take `[B, H, W, 1] float32 logits` and `[B, H, W, 1] float32 labels` in {0, 1} and return a
float32 scalar averaged over pixels. Adding a method touches this file only.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import chex
import jax
import jax.numpy as jnp
import optax

from crackjax import balance as balance_lib


def weighted_bce(logits, labels, pos_weight, neg_weight):
  """mean over pixels of w * BCE, with w = pos_weight on crack pixels and neg_weight elsewhere."""
  chex.assert_equal_shape([logits, labels])
  weights = pos_weight * labels + neg_weight * (1.0 - labels)
  return jnp.mean(weights * optax.sigmoid_binary_cross_entropy(logits, labels))


def dice(logits, labels, smooth: float = 1.0):
  """Soft Dice over all pixels of the batch pooled: 1 - (I + s) / ((sum p + sum y) / 2 + s) (optax's form)."""
  chex.assert_equal_shape([logits, labels])
  return jnp.mean(optax.losses.binary_dice_loss(
      logits.reshape(1, -1, 1), labels.reshape(1, -1, 1), smooth=smooth))


def focal(logits, labels, alpha: float, gamma: float):
  """optax's sigmoid focal loss (Lin et al. 2017), mean over pixels; alpha < 0 disables alpha-balancing."""
  return jnp.mean(optax.sigmoid_focal_loss(
      logits, labels, alpha=None if alpha < 0 else alpha, gamma=gamma))


def rao_weight(logits):
  """RAO-UNet's adaptive positive weight: summed background probability / summed crack probability.

  Computed on the batch's predictions and held constant for the gradient (stop_gradient).
  """
  probs = jax.nn.sigmoid(jax.lax.stop_gradient(logits))
  return jnp.sum(1.0 - probs) / jnp.maximum(jnp.sum(probs), 1e-6)


LossFn = Callable[[jax.Array, jax.Array, balance_lib.BalanceState, "ml_collections.ConfigDict"], jax.Array]


def _state_weighted_bce(logits, labels, state, cfg):
  del cfg
  return weighted_bce(logits, labels, state.pos_weight, state.neg_weight)


@dataclasses.dataclass(frozen=True)
class Method:
  """An imbalance method: its loss, whether weights adapt, and its sampling mode."""
  loss: LossFn
  adapt_weights: bool = False
  sampling: str = "uniform"   # 'uniform' | 'fixed' | 'adaptive'


METHODS: dict[str, Method] = {
    "bce": Method(_state_weighted_bce),
    # Initial weights come from the data (inverse frequency) in `initial_balance`; never adapted.
    "wbce": Method(_state_weighted_bce),
    "focal": Method(lambda lg, lb, s, c: focal(lg, lb, c.focal_alpha, c.focal_gamma)),
    "dice": Method(lambda lg, lb, s, c: dice(lg, lb)),
    "bce_dice": Method(lambda lg, lb, s, c: weighted_bce(lg, lb, 1.0, 1.0) + dice(lg, lb)),
    "rao": Method(lambda lg, lb, s, c: weighted_bce(lg, lb, rao_weight(lg), 1.0)),
    "rumc": Method(_state_weighted_bce, sampling="fixed"),
    "ran": Method(_state_weighted_bce, adapt_weights=True, sampling="adaptive"),
    "ran_weights": Method(_state_weighted_bce, adapt_weights=True),
    "ran_sampling": Method(_state_weighted_bce, sampling="adaptive"),
}


def get_method(name: str) -> Method:
  if name not in METHODS:
    raise ValueError(f"config.balance.method={name!r} is unknown; choose one of {sorted(METHODS)}.")
  return METHODS[name]


def balance_rule(cfg) -> balance_lib.BalanceRule:
  """The static update rule for `cfg` (= config.balance); frozen levels get eta = 0."""
  method = get_method(cfg.method)
  return balance_lib.BalanceRule(
      interval=cfg.interval, prf=cfg.prf,
      eta_weights=cfg.eta_weights if method.adapt_weights else 0.0,
      eta_sampling=cfg.eta_sampling if method.sampling == "adaptive" else 0.0,
      log_weight_bounds=(float(jnp.log(cfg.weight_bounds[0])), float(jnp.log(cfg.weight_bounds[1]))),
      logit_bounds=(balance_lib._logit(cfg.rate_bounds[0]), balance_lib._logit(cfg.rate_bounds[1])),
      warmup_steps=cfg.warmup_steps)


def initial_balance(cfg, natural_pos_rate: float, pixel_pos_fraction: float) -> balance_lib.BalanceState:
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
  return balance_lib.init(pos_weight=pos_w, neg_weight=neg_w, pos_rate=rate)

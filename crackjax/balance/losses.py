"""Pixel losses of the imbalance methods (optax where it has them).

All take `[B, H, W, 1] float32 logits` and `[B, H, W, 1] float32 labels` in {0, 1} and return a
float32 scalar averaged over pixels.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax


def weighted_bce(logits, labels, pos_weight, neg_weight, normalize: bool = False):
  """mean over pixels of w * BCE, with w = pos_weight on crack pixels and neg_weight elsewhere.

  With `normalize`, sum(w * BCE) / sum(w): the weights are rescaled so that their mean over the batch's
  pixels is 1, and the loss keeps the scale of plain BCE whatever the weights (the weights then set only
  how the loss is shared between crack and background pixels).
  """
  chex.assert_equal_shape([logits, labels])
  weights = pos_weight * labels + neg_weight * (1.0 - labels)
  terms = weights * optax.sigmoid_binary_cross_entropy(logits, labels)
  if normalize:
    return jnp.sum(terms) / jnp.maximum(jnp.sum(weights), 1e-12)
  return jnp.mean(terms)


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

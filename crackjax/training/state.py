"""The train state pytree: params, BatchNorm statistics, optimizer state, step, RNG and balance state."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from crackjax.balance import prf


class TrainState(train_state.TrainState):
  """`flax.training.train_state.TrainState` plus what the step must carry.

  Attributes:
    batch_stats: BatchNorm running statistics.
    rng: `uint32[2]` raw PRNG key; split every step (patch selection).
    balance: the PRF/balance sub-state (interval counts, loss weights, sampler logit).
  """
  batch_stats: Any
  rng: jax.Array
  balance: prf.BalanceState


def make_optimizer(opt_config, total_steps: int) -> optax.GradientTransformation:
  """AdamW with linear warm-up and cosine decay to `final_lr_fraction` of the peak."""
  warmup = min(opt_config.warmup_steps, max(total_steps - 1, 0))
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=0.0 if warmup else opt_config.learning_rate, peak_value=opt_config.learning_rate,
      warmup_steps=warmup, decay_steps=max(total_steps, warmup + 1),
      end_value=opt_config.learning_rate * opt_config.final_lr_fraction)
  return optax.chain(optax.clip_by_global_norm(opt_config.grad_clip_norm),
                     optax.adamw(schedule, weight_decay=opt_config.weight_decay))


def create(model: nn.Module, tx: optax.GradientTransformation, seed: int, patch_size: int,
           balance: prf.BalanceState, sharding) -> TrainState:
  """Initialises the state directly with `sharding` (replicated) under `jax.jit`.

  The initial values are drawn with JAX's non-partitionable threefry: the state is replicated, so the
  values are the same on any number of devices or hosts either way, and XLA:CPU compiles the model's
  random initializers 2.3-3.3x faster than with `jax_threefry_partitionable=True` (docs/performance.md).
  """

  def init(rng):
    init_rng, state_rng = jax.random.split(rng)
    variables = model.init(init_rng, jnp.zeros((1, patch_size, patch_size, 3), jnp.float32), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"],
                             batch_stats=variables.get("batch_stats", {}), tx=tx, rng=state_rng,
                             balance=balance)

  with jax.threefry_partitionable(False):
    return jax.jit(init, out_shardings=sharding)(jax.random.PRNGKey(seed))

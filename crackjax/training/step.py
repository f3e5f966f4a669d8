"""The pure, jit-compiled train step and the inference function.

A train batch is a pool of positive and negative patch candidates (see crackjax/data/input_pipeline.py):

    pos_image, neg_image: [B, h, w, 3] uint8      pos_mask, neg_mask: [B, h, w, 1] uint8 in {0, 1}

Each of the B slots takes its positive candidate with probability q = sigmoid(balance.pos_logit) and
its negative candidate otherwise, so the rate held in the train state governs the batch composition
in-graph (deterministic under the state's RNG, no host branch, no recompilation).
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp

from crackjax.balance import methods
from crackjax.balance import prf
from crackjax.evaluation import confusion
from crackjax.training import compile_options
from crackjax.training.state import TrainState


def select_patches(key, batch: dict, pos_rate) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Chooses each slot's patch: returns (`[B, h, w, 3] float32` in [0, 1], `[B, h, w, 1] float32` labels,
  `[B] bool` took-positive)."""
  chex.assert_equal_shape([batch["pos_image"], batch["neg_image"]])
  take_pos = jax.random.uniform(key, (batch["pos_image"].shape[0],)) < pos_rate
  pick = lambda p, n: jnp.where(take_pos[:, None, None, None], p, n)
  images = pick(batch["pos_image"], batch["neg_image"]).astype(jnp.float32) / 255.0
  labels = pick(batch["pos_mask"], batch["neg_mask"]).astype(jnp.float32)
  return images, labels, take_pos


def deeply_supervised_loss(loss_of, out) -> jax.Array:
  """`loss_of(logits)` for a `[B, H, W, 1]` output. For a deeply supervised model's train-mode dict
  `{"logits", "side_logits", "side_weights"}` (crackjax/models/__init__.py) the method's loss on every
  output, weighted: (L(logits) + sum_k w_k L(side_k)) / (1 + sum_k w_k), so its scale matches a
  single-output model's. Metrics and balance statistics use `logits` (the fused output) only."""
  if not isinstance(out, dict):
    return loss_of(out)
  total, norm = loss_of(out["logits"]), 1.0
  for w, side in zip(out["side_weights"], out["side_logits"], strict=True):
    chex.assert_equal_shape([side, out["logits"]])
    total, norm = total + w * loss_of(side), norm + w
  return total / norm


def train_step(state: TrainState, batch: dict, *, balance_config, rule: prf.BalanceRule):
  """One optimisation step. Returns (new state, metrics of this step as float32 scalars: loss, tp, fp,
  fn, pos_taken, patches, grad_norm, and `finite` (1.0 iff the loss and all gradients are finite))."""
  select_key, next_rng = jax.random.split(state.rng)
  images, labels, take_pos = select_patches(select_key, batch, state.balance.pos_rate)
  method = methods.get_method(balance_config.method)

  def loss_fn(params):
    out, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                  train=True, mutable=["batch_stats"])
    loss_of = lambda lg: method.loss(lg, labels, state.balance, balance_config)
    logits = out["logits"] if isinstance(out, dict) else out
    chex.assert_shape(logits, labels.shape)
    return deeply_supervised_loss(loss_of, out), (logits, updates)

  (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  new_state = state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"], rng=next_rng)

  per_example = confusion.confusion_counts(logits, labels, per_example=True)
  counts = {k: jnp.sum(v) for k, v in per_example.items()}
  seen = _controller_counts(state, batch, per_example, take_pos, rule)
  pos_taken = jnp.sum(take_pos, dtype=jnp.float32)
  bal = prf.accumulate(state.balance, seen["tp"], seen["fp"], seen["fn"], pos_taken,
                       jnp.float32(take_pos.shape[0]))
  bal = prf.maybe_update(bal, rule, new_state.step)
  new_state = new_state.replace(balance=bal)
  grad_sq = sum(jnp.sum(g * g) for g in jax.tree.leaves(grads))
  step_metrics = {"loss": loss, **counts, "pos_taken": pos_taken,
                  "patches": jnp.float32(take_pos.shape[0]), "grad_norm": jnp.sqrt(grad_sq),
                  "finite": all_finite(loss, grad_sq)}
  return new_state, step_metrics


def _controller_counts(state: TrainState, batch: dict, per_example: dict, take_pos, rule) -> dict:
  """The TP/FP/FN the balance controller accumulates this step (`rule.measure`, crackjax/balance/prf.py).

  'batch': this step's batch as trained on. 'val': nothing (the trainer feeds the validation counts to
  `prf.update_with_counts`). 'natural': the same counts, each slot weighted back to the
  natural rate. 'natural_eval': every `rule.measure_every`-th step, the inference-mode model (BatchNorm's
  running averages) on the whole candidate pool, weighted to the natural rate; zero on the other steps
  (`lax.cond`: the forward pass runs only where it is needed).
  """
  if rule.measure == "batch":
    return {k: jnp.sum(v) for k, v in per_example.items()}
  if rule.measure == "val":   # the trainer moves the controller after each validation instead
    return {k: jnp.zeros((), jnp.float32) for k in ("tp", "fp", "fn")}
  if rule.measure == "natural":
    slot_weights = prf.natural_slot_weights(state.balance, take_pos)
    return {k: jnp.sum(v * slot_weights) for k, v in per_example.items()}

  def measure_pool():
    images = jnp.concatenate([batch["pos_image"], batch["neg_image"]]).astype(jnp.float32) / 255.0
    labels = jnp.concatenate([batch["pos_mask"], batch["neg_mask"]]).astype(jnp.float32)
    logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, images, train=False)
    pool = confusion.confusion_counts(logits, labels, per_example=True)
    weights = prf.natural_pool_weights(state.balance, images.shape[0])
    return {k: jnp.sum(v * weights) for k, v in pool.items()}

  zeros = lambda: {k: jnp.zeros((), jnp.float32) for k in ("tp", "fp", "fn")}
  return jax.lax.cond((state.step + 1) % rule.measure_every == 0, measure_pool, zeros)


def all_finite(loss, grad_sq) -> jax.Array:
  """`float32` 1.0 if the loss and every gradient entry are finite (no NaN, no inf), else 0.0.

  `grad_sq` is the sum of the squared gradient entries (the step logs its root, the gradient norm): a
  NaN or inf in any entry makes it NaN or inf, so the check costs no pass over the gradients of its own
  (a per-entry `isfinite` pass measured +0.25% bytes accessed per step). It also flags a gradient norm
  beyond float32's range (~1.8e19), which is divergence as well. Computed in-graph on every step and
  returned with the step's metrics; the host reads it only where it syncs anyway
  (crackjax/training/train.py), so a diverged state is never checkpointed. (optax's `apply_if_finite`
  would skip such updates; crackjax stops instead, naming the step.)
  """
  return (jnp.isfinite(loss) & jnp.isfinite(grad_sq)).astype(jnp.float32)


def make_train_step(config, state_sharding, batch_sharding):
  """`train_step` bound to the config and compiled once with shardings; the state is donated."""
  fn = functools.partial(train_step, balance_config=config.balance,
                         rule=methods.balance_rule(config.balance))
  return jax.jit(fn, in_shardings=(state_sharding, batch_sharding),
                 out_shardings=(state_sharding, state_sharding), donate_argnums=(0,),
                 compiler_options=compile_options.for_backend())


def predict_probs(state: TrainState, images) -> jax.Array:
  """`[B, H, W, 3] uint8` -> `[B, H, W] float32` crack probabilities (BatchNorm running averages)."""
  logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats},
                          images.astype(jnp.float32) / 255.0, train=False)
  return jax.nn.sigmoid(logits[..., 0])


def make_predict(state_sharding, batch_sharding):
  return jax.jit(predict_probs, in_shardings=(state_sharding, batch_sharding),
                 out_shardings=batch_sharding, compiler_options=compile_options.for_backend())


def make_balance_update(config, state_sharding):
  """`(state, tp, fp, fn) -> state` moving the balance controller by counts measured outside the step
  (`balance.measure='val'`: the pooled counts of a validation), jitted; warm-up as in the step."""
  rule = methods.balance_rule(config.balance)

  def balance_update(state: TrainState, tp, fp, fn) -> TrainState:
    bal = prf.update_with_counts(state.balance, rule, tp, fp, fn, active=state.step > rule.warmup_steps)
    return state.replace(balance=bal)

  return jax.jit(balance_update, in_shardings=(state_sharding, None, None, None), out_shardings=state_sharding,
                 donate_argnums=(0,))

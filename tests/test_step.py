"""The jitted data-parallel train step: device-count invariance, overfitting, batch composition."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

from crackjax import models
from crackjax.balance import methods
from crackjax.training import parallel
from crackjax.training import state as state_lib
from crackjax.training import step as step_lib


def _batch(seed=0, b=8, size=32):
  rng = np.random.default_rng(seed)
  pos_mask = np.zeros((b, size, size, 1), np.uint8)
  pos_mask[:, size // 2 - 1:size // 2 + 1, 4:-4] = 1                     # a horizontal "crack"
  pos_image = rng.integers(100, 160, (b, size, size, 3)).astype(np.uint8)
  pos_image[pos_mask[..., 0] > 0] = 30
  neg_image = rng.integers(100, 160, (b, size, size, 3)).astype(np.uint8)
  return {"pos_image": pos_image, "pos_mask": pos_mask, "neg_image": neg_image,
          "neg_mask": np.zeros_like(pos_mask)}


def _setup(config, devices, pos_rate=0.5):
  mesh = Mesh(np.array(devices), (parallel.DATA_AXIS,))
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  model = models.get_model(config.model)
  tx = state_lib.make_optimizer(config.optimizer, config.total_steps)
  bal = methods.initial_balance(config.balance, pos_rate, 0.05)
  state = state_lib.create(model, tx, config.seed, 32, bal, repl)
  return state, step_lib.make_train_step(config, repl, data), data


def _run(config, devices, steps=4):
  state, train_step, data = _setup(config, devices)
  losses_ = []
  for i in range(steps):
    batch = jax.tree.map(lambda x: jax.device_put(x, data), _batch(i))
    state, m = train_step(state, batch)
    losses_.append(float(m["loss"]))
  return jax.device_get(state), losses_, train_step


def test_one_and_four_devices_give_the_same_state_and_loss(smoke_config):
  assert jax.device_count() == 4
  cfg = smoke_config.copy_and_resolve_references()
  one, loss1, _ = _run(cfg, jax.devices()[:1])
  four, loss4, step4 = _run(cfg, jax.devices())
  np.testing.assert_allclose(loss1, loss4, rtol=1e-3)
  chex.assert_trees_all_close(one.params, four.params, rtol=1e-3, atol=1e-5)
  chex.assert_trees_all_close(one.batch_stats, four.batch_stats, rtol=1e-3, atol=1e-5)
  chex.assert_trees_all_close(one.balance, four.balance, rtol=1e-3, atol=1e-5)
  assert step4._cache_size() == 1, "the step recompiled"


def test_cpu_compiler_options_and_layer_formulations_keep_the_numbers(smoke_config, monkeypatch):
  """The CPU speed-ups (crackjax/training/compile_options.py; layers.cpu_formulations) change no result beyond
  float rounding: 3 steps with them equal 3 steps with XLA's defaults and the standard ops."""
  from crackjax.models import layers
  cfg = smoke_config.copy_and_resolve_references()
  fast, loss_fast, _ = _run(cfg, jax.devices()[:1], steps=3)
  monkeypatch.setenv("CRACKJAX_XLA_CPU_DEFAULTS", "1")
  monkeypatch.setattr(layers, "cpu_formulations", lambda: False)
  plain, loss_plain, _ = _run(cfg, jax.devices()[:1], steps=3)
  np.testing.assert_allclose(loss_fast, loss_plain, rtol=1e-4)
  chex.assert_trees_all_close(fast.params, plain.params, rtol=1e-3, atol=1e-5)
  chex.assert_trees_all_close(fast.batch_stats, plain.batch_stats, rtol=1e-3, atol=1e-5)


def test_overfits_one_small_batch(smoke_config):
  cfg = smoke_config.copy_and_resolve_references()
  cfg.balance.method = "bce"
  cfg.optimizer.learning_rate = 1e-2
  cfg.optimizer.warmup_steps = 0
  cfg.optimizer.final_lr_fraction = 1.0
  cfg.total_steps = 60
  state, train_step, data = _setup(cfg, jax.devices()[:1], pos_rate=1.0)   # the same 8 patches every step
  batch = jax.tree.map(lambda x: jax.device_put(x, data), _batch(0))
  first = None
  for _ in range(cfg.total_steps):
    state, m = train_step(state, batch)
    first = float(m["loss"]) if first is None else first
  assert float(m["loss"]) < 0.2 * first
  assert float(m["tp"]) > 0.8 * (float(m["tp"]) + float(m["fn"]))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_batch_composition_follows_the_rate_in_the_state(rate):
  batch = jax.tree.map(jnp.asarray, _batch(0, b=2000, size=12))
  _, labels, take_pos = step_lib.select_patches(jax.random.PRNGKey(1), batch, rate)
  frac = float(jnp.mean(take_pos))
  assert abs(frac - rate) < 4 * np.sqrt(rate * (1 - rate) / 2000)
  np.testing.assert_array_equal(np.asarray(labels).reshape(2000, -1).max(1) > 0, np.asarray(take_pos))


@pytest.mark.parametrize("rate, natural, measure, factor", [
    (1.0, 0.25, "natural", 0.25),   # every slot took its positive candidate: each stands for pi / q
    (1.0, 0.25, "batch", 1.0),
    (0.4, 0.4, "natural", 1.0),     # sampling at the natural rate: nothing to undo
])
def test_the_controller_sees_counts_reweighted_to_the_natural_rate(smoke_config, rate, natural, measure,
                                                                   factor):
  from crackjax.balance import prf
  cfg = smoke_config.copy_and_resolve_references()
  cfg.balance.measure = measure
  cfg.balance.interval = 1000     # no interval closes: the accumulators hold this step's counts
  mesh = Mesh(np.array(jax.devices()[:1]), (parallel.DATA_AXIS,))
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  tx = state_lib.make_optimizer(cfg.optimizer, cfg.total_steps)
  state = state_lib.create(models.get_model(cfg.model), tx, cfg.seed, 32,
                           prf.init(pos_rate=rate, natural_rate=natural), repl)
  batch = _batch(0)
  if rate == 0.4:   # slots take either candidate; make both kinds hold cracks so every count is nonzero
    batch["neg_mask"], batch["neg_image"] = batch["pos_mask"], batch["pos_image"]
  state, m = step_lib.make_train_step(cfg, repl, data)(state, jax.tree.map(jnp.asarray, batch))
  seen = {k: float(getattr(state.balance, k)) for k in ("tp", "fp", "fn")}
  for k, v in seen.items():
    assert v == pytest.approx(factor * float(m[k]), rel=1e-5, abs=1e-3), (k, v, float(m[k]))
  assert float(m["tp"]) + float(m["fn"]) > 0


def test_natural_eval_measures_the_inference_model_on_the_whole_pool(smoke_config):
  """measure='natural_eval': every measure_every-th step the running-average model predicts the B positive
  and B negative candidates, counted with weights 2 pi and 2 (1 - pi); the other steps add nothing."""
  from crackjax.balance import prf
  from crackjax.evaluation import confusion
  cfg = smoke_config.copy_and_resolve_references()
  cfg.balance.measure, cfg.balance.measure_every, cfg.balance.interval = "natural_eval", 2, 1000
  mesh = Mesh(np.array(jax.devices()[:1]), (parallel.DATA_AXIS,))
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  tx = state_lib.make_optimizer(cfg.optimizer, cfg.total_steps)
  state = state_lib.create(models.get_model(cfg.model), tx, cfg.seed, 32,
                           prf.init(pos_rate=0.5, natural_rate=0.2), repl)
  train_step = step_lib.make_train_step(cfg, repl, data)
  batch = jax.tree.map(jnp.asarray, _batch(0))
  state, _ = train_step(state, batch)                  # step 1: not a measuring step
  assert float(state.balance.tp) == float(state.balance.fp) == float(state.balance.fn) == 0.0
  before = jax.device_get(state)      # the step donates its input state
  state, _ = train_step(state, batch)                  # step 2: measures with the state it starts from
  images = jnp.concatenate([batch["pos_image"], batch["neg_image"]]).astype(jnp.float32) / 255.0
  labels = jnp.concatenate([batch["pos_mask"], batch["neg_mask"]]).astype(jnp.float32)
  logits = before.apply_fn({"params": before.params, "batch_stats": before.batch_stats}, images, train=False)
  pool = confusion.confusion_counts(logits, labels, per_example=True)
  w = np.r_[np.full(8, 0.4), np.full(8, 1.6)]
  for k in ("tp", "fp", "fn"):
    assert float(getattr(state.balance, k)) == pytest.approx(float(np.sum(np.asarray(pool[k]) * w)),
                                                             rel=1e-5, abs=1e-3), k
  assert train_step._cache_size() == 1

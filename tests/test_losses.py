import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from crackjax import config_base
from crackjax.balance import losses
from crackjax.balance import methods
from crackjax.balance import prf


def _data(seed=0):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(2, 8, 8, 1)).astype(np.float32)
  labels = (rng.random((2, 8, 8, 1)) < 0.2).astype(np.float32)
  return jnp.asarray(logits), jnp.asarray(labels), logits, labels


def _np_bce(x, y):
  p = 1 / (1 + np.exp(-x.astype(np.float64)))
  return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_weighted_bce_matches_numpy():
  lg, lb, x, y = _data()
  got = losses.weighted_bce(lg, lb, 3.0, 0.5)
  want = np.mean((3.0 * y + 0.5 * (1 - y)) * _np_bce(x, y))
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_weights_from_the_balance_state_enter_the_loss():
  lg, lb, x, y = _data(1)
  cfg = config_base.base().balance
  state = prf.init(pos_weight=4.0, neg_weight=0.25)
  got = methods.get_method("ran").loss(lg, lb, state, cfg)
  np.testing.assert_allclose(got, np.mean((4.0 * y + 0.25 * (1 - y)) * _np_bce(x, y)), rtol=1e-5)


def test_dice_is_one_soft_dice_over_the_batch():
  lg, lb, x, y = _data(2)
  p = 1 / (1 + np.exp(-x))
  # optax's (Tversky alpha = beta = 0.5) form: 1 - (I + s) / ((|P| + |Y|) / 2 + s), s = 1.
  want = 1 - (np.sum(p * y) + 1) / ((np.sum(p) + np.sum(y)) / 2 + 1)
  np.testing.assert_allclose(losses.dice(lg, lb), want, rtol=1e-5)


def test_rao_weight_is_background_over_foreground_probability_and_has_no_gradient():
  lg, _, x, _ = _data(3)
  p = 1 / (1 + np.exp(-x))
  np.testing.assert_allclose(losses.rao_weight(lg), np.sum(1 - p) / np.sum(p), rtol=1e-5)
  np.testing.assert_allclose(jax.grad(lambda l: losses.rao_weight(l))(lg), 0.0)


def test_focal_is_optax():
  lg, lb, _, _ = _data(4)
  got = losses.focal(lg, lb, 0.25, 2.0)
  np.testing.assert_allclose(got, jnp.mean(optax.sigmoid_focal_loss(lg, lb, alpha=0.25, gamma=2.0)))


@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_every_method_gives_a_finite_loss_and_gradient(method):
  lg, lb, _, _ = _data(5)
  cfg = config_base.base().balance
  state = methods.initial_balance(cfg.copy_and_resolve_references(), 0.2, 0.01)
  fn = lambda l: methods.get_method(method).loss(l, lb, state, cfg)
  value, grad = jax.value_and_grad(fn)(lg)
  assert np.isfinite(value) and np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_initial_balance_per_method():
  cfg = config_base.base().balance
  def init(method, **kw):
    c = cfg.copy_and_resolve_references()
    c.method = method
    c.update(kw)
    return jax.device_get(methods.initial_balance(c, natural_pos_rate=0.2, pixel_pos_fraction=0.01))
  bce = init("bce")
  assert np.exp(bce.log_pos_weight) == pytest.approx(1) and np.exp(bce.log_neg_weight) == pytest.approx(1)
  assert 1 / (1 + np.exp(-bce.pos_logit)) == pytest.approx(0.2, rel=1e-5)
  assert np.exp(init("wbce").log_pos_weight) == pytest.approx(99.0, rel=1e-5)
  assert 1 / (1 + np.exp(-init("rumc").pos_logit)) == pytest.approx(0.5, rel=1e-5)
  assert 1 / (1 + np.exp(-init("ran", init_pos_rate=0.4).pos_logit)) == pytest.approx(0.4, rel=1e-5)
  assert np.exp(init("ran", init_pos_weight=5.0).log_pos_weight) == pytest.approx(5.0, rel=1e-5)
  # Methods without adaptive weights ignore init weights.
  assert np.exp(init("ran_sampling", init_pos_weight=5.0).log_pos_weight) == pytest.approx(1.0)


def test_balance_rule_freezes_levels_the_method_does_not_adapt():
  cfg = config_base.base().balance
  def rule(method):
    c = cfg.copy_and_resolve_references()
    c.method = method
    return methods.balance_rule(c)
  assert rule("ran").eta_weights > 0 and rule("ran").eta_sampling > 0
  assert rule("ran_weights").eta_sampling == 0 and rule("ran_weights").eta_weights > 0
  assert rule("ran_sampling").eta_weights == 0 and rule("ran_sampling").eta_sampling > 0
  for m in ("bce", "wbce", "focal", "dice", "bce_dice", "rao", "rumc"):
    assert rule(m).eta_weights == 0 and rule(m).eta_sampling == 0


def test_unknown_method_names_the_key():
  with pytest.raises(ValueError, match="config.balance.method='nope'"):
    methods.get_method("nope")


@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_every_method_compiles_on_the_data_parallel_mesh(method):
  """Losses see batch-sharded arrays inside the step (4 fake devices, the trainer's own mesh)."""
  from crackjax.training import parallel  # noqa: PLC0415
  mesh = parallel.make_mesh()
  lg, lb, _, _ = _data(6)
  lg, lb = (jax.device_put(jnp.tile(a, (2, 1, 1, 1)), parallel.batch_sharding(mesh)) for a in (lg, lb))
  cfg = config_base.base().balance
  state = methods.initial_balance(cfg.copy_and_resolve_references(), 0.2, 0.01)
  fn = jax.jit(jax.value_and_grad(lambda l: methods.get_method(method).loss(l, lb, state, cfg)))
  value, grad = fn(lg)
  assert np.isfinite(value) and grad.shape == lg.shape


def test_normalized_weights_keep_the_scale_of_plain_bce():
  logits = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 1))
  labels = (jax.random.uniform(jax.random.PRNGKey(1), (2, 8, 8, 1)) < 0.1).astype(jnp.float32)
  plain = losses.weighted_bce(logits, labels, 1.0, 1.0)
  np.testing.assert_allclose(losses.weighted_bce(logits, labels, 7.0, 7.0, normalize=True), plain, rtol=1e-6)
  w = np.where(np.asarray(labels) > 0, 30.0, 0.5)
  bce = np.asarray(optax.sigmoid_binary_cross_entropy(logits, labels))
  np.testing.assert_allclose(losses.weighted_bce(logits, labels, 30.0, 0.5, normalize=True),
                             np.sum(w * bce) / np.sum(w), rtol=1e-5)

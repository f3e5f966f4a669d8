"""Properties of the PRF balance update (crackjax/balance/prf.py)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from crackjax.balance import prf


RULE = prf.BalanceRule(interval=5, eta_weights=0.5, eta_sampling=0.5,
                           log_weight_bounds=(-2.0, 2.0), logit_bounds=(-3.0, 3.0))
counts = st.floats(0, 1e6, allow_nan=False, width=32, allow_subnormal=False)  # float32 counts, as in the graph (XLA flushes subnormals to 0)


def _state(tp, fp, fn, **kw):
  s = prf.init(**kw)
  return prf.accumulate(s, jnp.float32(tp), jnp.float32(fp), jnp.float32(fn), 0.0, 0.0)


def _moves(tp, fp, fn, rule=RULE, **kw):
  s0 = _state(tp, fp, fn, **kw)
  s1 = jax.device_get(prf.update(s0, rule))
  s0 = jax.device_get(s0)
  return (s1.log_pos_weight - s0.log_pos_weight, s1.log_neg_weight - s0.log_neg_weight,
          s1.pos_logit - s0.pos_logit, s1)


@settings(max_examples=60, deadline=None)
@given(tp=counts, fp=counts, fn=counts)
def test_direction_follows_the_sign_of_prf(tp, fp, fn):
  d_pos, d_neg, d_logit, s1 = _moves(tp, fp, fn)
  p, r = prf.precision_recall(tp, fp, fn)
  assert np.all(np.isfinite([d_pos, d_neg, d_logit, s1.prf]))
  if tp + fn == 0:
    assert d_pos == d_neg == d_logit == 0
  elif p > r + 1e-6:   # too conservative: positives gain weight and rate
    assert d_pos > 0 and d_neg < 0 and d_logit > 0
  elif r > p + 1e-6:   # too liberal: negatives gain
    assert d_pos < 0 and d_neg > 0 and d_logit < 0


@settings(max_examples=100, deadline=None)
@given(r=st.floats(0.05, 0.95), g1=st.floats(0.0, 1.0), g2=st.floats(0.0, 1.0),
       above=st.booleans(), kind=st.sampled_from(prf.PRF_KINDS))
def test_strength_grows_with_the_gap(r, g1, g2, above, kind):
  """At fixed recall, a precision farther from it (same side) gives a larger |PRF|."""
  room = (1.0 - r) if above else (r - 0.01)
  near, far = sorted([g1, g2])
  sign = 1.0 if above else -1.0
  p_near, p_far = r + sign * near * room, r + sign * far * room
  assert abs(prf.prf(p_far, r, kind)) >= abs(prf.prf(p_near, r, kind)) - 1e-6
  d_near = _moves(1e4 * r * p_near, 1e4 * r * (1 - p_near), 1e4 * (1 - r) * p_near)[0]
  d_far = _moves(1e4 * r * p_far, 1e4 * r * (1 - p_far), 1e4 * (1 - r) * p_far)[0]
  assert abs(d_far) >= abs(d_near) - 1e-5


def test_strength_is_proportional_to_prf():
  # P = 1, R = 0.5 (ratio PRF = 1/3) vs P = 1, R = 0.2 (PRF = 2/3): twice the move.
  d1 = _moves(10, 0, 10)[0]
  d2 = _moves(10, 0, 40)[0]
  np.testing.assert_allclose(d1, 0.5 / 3, rtol=1e-5)
  np.testing.assert_allclose(d2, 2 * d1, rtol=1e-5)


def test_fixed_point_at_equal_precision_and_recall():
  d_pos, d_neg, d_logit, s1 = _moves(50, 10, 10, pos_weight=2.0, pos_rate=0.3)
  assert d_pos == d_neg == d_logit == 0 and s1.prf == 0


def test_clipping_holds():
  s = _state(10, 0, 1000, pos_weight=1.0, pos_rate=0.5)
  for _ in range(100):
    s = prf.accumulate(prf.update(s, RULE), 1.0, 0.0, 100.0, 0.0, 0.0)
  s = jax.device_get(s)
  assert s.log_pos_weight == pytest.approx(2.0) and s.log_neg_weight == pytest.approx(-2.0)
  assert s.pos_logit == pytest.approx(3.0)


def test_zero_counts_give_no_nan_and_no_move():
  d_pos, d_neg, d_logit, s1 = _moves(0, 0, 0)
  assert d_pos == d_neg == d_logit == 0
  assert all(np.isfinite(v) for v in jax.tree.leaves(s1))
  # Nothing predicted positive but cracks present: P = 1 by convention, R = 0 -> positives gain.
  assert _moves(0, 0, 30)[0] > 0


def test_update_resets_counts_and_reports_realised_positive_fraction():
  s = prf.accumulate(prf.init(), 3.0, 1.0, 2.0, pos_taken=6.0, patches_taken=24.0)
  s1 = jax.device_get(prf.update(s, RULE))
  assert s1.tp == s1.fp == s1.fn == s1.pos_taken == s1.patches_taken == 0
  assert s1.pos_fraction == pytest.approx(0.25)
  assert s1.precision == pytest.approx(0.75) and s1.recall == pytest.approx(0.6)


def test_maybe_update_fires_in_graph_only_at_interval_ends():
  @jax.jit
  def go(state, step):
    return prf.maybe_update(state, RULE, step)
  s = _state(10, 0, 30)
  for step in range(1, 5):
    out = go(s, jnp.int32(step))
    chex.assert_trees_all_equal(out, s)
  out = jax.device_get(go(s, jnp.int32(5)))
  assert out.log_pos_weight > 0 and out.tp == 0
  assert go._cache_size() == 1


def test_bad_rule_and_init_values_name_the_key():
  with pytest.raises(ValueError, match="interval"):
    prf.BalanceRule(interval=0)
  with pytest.raises(ValueError, match="prf"):
    prf.BalanceRule(interval=1, prf="nope")
  with pytest.raises(ValueError, match="rate"):
    prf.init(pos_rate=1.5)


def test_warmup_measures_but_does_not_move():
  rule = prf.BalanceRule(interval=5, eta_weights=0.5, eta_sampling=0.5, warmup_steps=10)
  s = _state(10, 0, 30)
  during = jax.device_get(prf.maybe_update(s, rule, jnp.int32(10)))
  after = jax.device_get(prf.maybe_update(s, rule, jnp.int32(15)))
  assert during.tp == 0 and during.prf > 0 and during.recall == pytest.approx(0.25)
  assert during.log_pos_weight == 0 and during.pos_logit == 0 and during.updates == 0
  assert after.log_pos_weight > 0 and after.pos_logit > 0 and after.updates == 1

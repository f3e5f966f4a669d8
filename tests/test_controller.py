"""The PRF controller's options (crackjax/balance/prf.py) in isolation and on a toy closed loop
(tests/closed_loop_plant.py: a detector whose skill grows while the controller moves it)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from crackjax.balance import prf
from tests import closed_loop_plant


def _rule(**kw):
  base = dict(interval=20, eta_weights=0.5, eta_sampling=0.5, log_weight_bounds=(-4.6, 4.6),
              logit_bounds=(-3.9, 3.9))
  return prf.BalanceRule(**{**base, **kw})


def _close(state, rule, tp, fp, fn):
  return jax.device_get(prf.update(prf.accumulate(state, tp, fp, fn, 0.0, 0.0), rule))


def _gap(records, last=10):
  return float(np.mean([abs(r["P"] - r["R"]) for r in records[-last:]]))


# -- the options, one interval at a time ------------------------------------------------------------

def test_defaults_are_the_pure_integrator():
  s = _close(prf.init(), _rule(), 10.0, 0.0, 30.0)   # P = 1, R = 0.25: PRF = 0.6
  np.testing.assert_allclose([s.log_pos_weight, s.log_neg_weight, s.pos_logit], [0.3, -0.3, 0.3], rtol=1e-5)
  assert s.drive == pytest.approx(0.6) and s.step_scale == 1.0


def test_dead_band_leaves_a_small_gap_alone():
  rule = _rule(dead_band=0.1)
  small = _close(prf.init(), rule, 50.0, 10.0, 12.0)   # P 0.833, R 0.806: PRF 0.017
  big = _close(prf.init(), rule, 10.0, 0.0, 30.0)
  assert small.log_pos_weight == 0 and small.pos_logit == 0 and small.prf > 0
  assert big.log_pos_weight == pytest.approx(0.3)


def test_smoothing_averages_prf_across_intervals():
  rule = _rule(smoothing=0.75)
  s = _close(prf.init(), rule, 10.0, 0.0, 30.0)        # first interval: drive = PRF = 0.6
  s = _close(s, rule, 30.0, 30.0, 30.0)                 # P = R: PRF 0
  assert s.drive == pytest.approx(0.75 * 0.6)
  np.testing.assert_allclose(s.log_pos_weight, 0.5 * 0.6 + 0.5 * 0.45, rtol=1e-5)


def test_proportional_term_reacts_to_the_change_of_the_error():
  rule = _rule(kp=2.0)
  s1 = _close(prf.init(), rule, 10.0, 0.0, 30.0)       # e = 0.6 from nothing: (1 + kp) * 0.6
  np.testing.assert_allclose(s1.log_pos_weight, 0.5 * 3 * 0.6, rtol=1e-5)
  s2 = _close(s1, rule, 30.0, 30.0, 30.0)               # e = 0: the proportional part is taken back
  np.testing.assert_allclose(s2.log_pos_weight - s1.log_pos_weight, 0.5 * (0 + 2.0 * (0 - 0.6)), rtol=1e-5)


def test_adaptive_step_shrinks_on_a_flip_and_grows_back_while_the_sign_holds():
  rule = _rule(adaptive_step=True)
  s = _close(prf.init(), rule, 10.0, 0.0, 30.0)        # +
  assert s.step_scale == 1.0
  s = _close(s, rule, 30.0, 30.0, 0.0)                  # P 0.5 < R 1: flip -> x0.5
  assert s.step_scale == pytest.approx(0.5)
  s = _close(s, rule, 30.0, 30.0, 0.0)                  # same sign -> x1.2
  assert s.step_scale == pytest.approx(0.6)
  for _ in range(5):
    s = _close(s, rule, 30.0, 30.0, 0.0)
  assert s.step_scale == 1.0                            # capped at 1


def test_intervals_without_cracks_and_warmup_keep_the_controllers_memory():
  rule = _rule(adaptive_step=True, smoothing=0.5, warmup_steps=0)
  s = _close(prf.init(), rule, 10.0, 0.0, 30.0)
  empty = _close(s, rule, 0.0, 5.0, 0.0)                # no crack pixel: measures nothing
  assert empty.drive == s.drive and empty.step_scale == s.step_scale
  assert empty.log_pos_weight == s.log_pos_weight and empty.updates == s.updates


def test_natural_slot_weights_undo_the_resampling():
  state = prf.init(pos_rate=0.6, natural_rate=0.2)
  w = np.asarray(prf.natural_slot_weights(state, jnp.array([True, False])))
  np.testing.assert_allclose(w, [0.2 / 0.6, 0.8 / 0.4], rtol=1e-5)
  uniform = prf.init(pos_rate=0.3, natural_rate=0.3)
  np.testing.assert_allclose(prf.natural_slot_weights(uniform, jnp.array([True, False])), [1.0, 1.0],
                             rtol=1e-6)
  # Expected weighted counts at rate q equal the counts at the natural rate.
  rng = np.random.default_rng(0)
  took = rng.random(200_000) < 0.6
  fp = np.where(took, 3.0, 7.0)   # false positives per positive / negative patch
  weighted = np.mean(fp * np.asarray(prf.natural_slot_weights(state, jnp.asarray(took))))
  assert weighted == pytest.approx(0.2 * 3.0 + 0.8 * 7.0, rel=0.01)


@pytest.mark.parametrize("key, value", [("measure", "images"), ("kp", -1.0), ("smoothing", 1.0),
                                        ("dead_band", -0.1), ("step_shrink", 0.0)])
def test_bad_controller_values_name_the_key(key, value):
  with pytest.raises(ValueError, match=key):
    _rule(**{key: value})


# -- the closed loop --------------------------------------------------------------------------------

def test_natural_measurement_balances_the_images_where_batch_measurement_balances_the_batches():
  """The sample level alone, slow network: judged on the resampled batches, the rate climbs until the
  batches balance while whole images over-detect; judged at the natural distribution, the images balance."""
  rule = _rule(eta_weights=0.0)
  batch = closed_loop_plant.run(rule, 80, measure="batch", lag=0.1)
  natural = closed_loop_plant.run(rule, 80, measure="natural", lag=0.1)
  measured_gap = np.mean([abs(r["measured_P"] - r["measured_R"]) for r in batch[-10:]])
  assert measured_gap < 0.06 and _gap(batch) > 0.2, (measured_gap, _gap(batch))
  assert _gap(natural) < 0.05
  assert batch[-1]["rate"] > 2 * natural[-1]["rate"]


@pytest.mark.parametrize("lag", [0.1, 0.2])
def test_proportional_term_damps_the_overshoot_of_the_integrator(lag):
  """Both levels, a detector that learns slowly: the pure integrator at eta 0.5 overshoots far into
  over-detection after the untrained start; the PI form with half the integral gain overshoots less and
  settles."""
  integral = closed_loop_plant.run(_rule(), 60, measure="natural", lag=lag)
  pi = closed_loop_plant.run(_rule(eta_weights=0.25, eta_sampling=0.25, kp=1.0), 60, measure="natural", lag=lag)
  overshoot = lambda rs: max(r["R"] - r["P"] for r in rs)
  assert overshoot(pi) < 0.7 * overshoot(integral), (overshoot(pi), overshoot(integral))
  assert _gap(pi) < 0.03


def test_the_pure_integrator_with_a_large_step_rings():
  """What the options are for: with eta 3 the pure integrator swings from one side to the other again
  and again; PI with half the integral gain crosses over once and settles."""
  run = lambda rule: closed_loop_plant.run(rule, 60, measure="natural", lag=0.1, skill_intervals=2.0)
  integral = run(_rule(eta_weights=3.0, eta_sampling=0.0))
  pi = run(_rule(eta_weights=1.5, eta_sampling=0.0, kp=1.0))

  def flips(records):   # sign changes of P - R after the start, ignoring gaps under 0.02
    signs = [np.sign(r["P"] - r["R"]) for r in records[10:] if abs(r["P"] - r["R"]) > 0.02]
    return sum(a != b for a, b in zip(signs, signs[1:]))

  assert flips(integral) >= 3 and flips(pi) <= 1, (flips(integral), flips(pi))

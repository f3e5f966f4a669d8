import chex
import jax
import jax.numpy as jnp
import ml_collections
import pytest

from crackjax import models


def _cfg(**kw):
  c = ml_collections.ConfigDict(dict(name="unet", base_channels=4, depth=2, dtype="float32",
                                    output_prior=0.01))
  c.update(kw)
  return c


@pytest.mark.parametrize("shape", [(2, 32, 32, 3), (1, 64, 96, 3)])
def test_unet_returns_float32_logits_at_input_resolution(shape):
  model = models.get_model(_cfg())
  x = jnp.zeros(shape, jnp.float32)
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  y, updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
  chex.assert_shape(y, shape[:3] + (1,))
  chex.assert_type(y, jnp.float32)
  assert "batch_stats" in updates


def test_unet_bfloat16_compute_keeps_float32_params_and_logits():
  model = models.get_model(_cfg(dtype="bfloat16"))
  x = jnp.ones((1, 32, 32, 3))
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))
  chex.assert_type(model.apply(variables, x, train=False), jnp.float32)


def test_unet_rejects_sizes_not_divisible_by_its_stride():
  model = models.get_model(_cfg(depth=3))
  with pytest.raises(ValueError, match="divisible by 8"):
    model.init(jax.random.PRNGKey(0), jnp.zeros((1, 36, 32, 3)), train=False)


def test_original_unet_parameter_count():
  """Ronneberger's U-Net (64 base channels, 4 levels) has 31.0M parameters with BN and no conv bias."""
  model = models.get_model(_cfg(base_channels=64, depth=4))
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3))))
  n = sum(x.size for x in jax.tree.leaves(shapes["params"]))
  assert 30.5e6 < n < 31.5e6, n


def test_unknown_model_name_names_the_key():
  with pytest.raises(ValueError, match="config.model.name='nope'"):
    models.get_model(_cfg(name="nope"))


def test_untrained_model_predicts_the_prior():
  model = models.get_model(_cfg(output_prior=0.02))
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 32, 32, 3))
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  probs = jax.nn.sigmoid(model.apply(variables, x, train=True, mutable=["batch_stats"])[0])
  assert abs(float(jnp.median(probs)) - 0.02) < 0.01

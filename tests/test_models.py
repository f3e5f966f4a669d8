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


# ------------------------------------------ CPU formulations of the U-Net's layers (docs/performance.md)

from unittest import mock  # noqa: E402

import flax.linen as nn  # noqa: E402
import numpy as np  # noqa: E402

from crackjax.models import layers  # noqa: E402

_LAYER_PAIRS = [
    (lambda: layers.ConvTranspose(6), lambda: nn.ConvTranspose(6, (2, 2), strides=(2, 2))),
]


@pytest.mark.parametrize("matmul_form", [True, False], ids=["cpu-matmul", "lax-conv"])
@pytest.mark.parametrize("make,make_ref", _LAYER_PAIRS)
def test_layers_equal_flax_in_value_gradients_and_parameters(make, make_ref, matmul_form):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 7, 9, 5))
  ref = make_ref()
  variables = ref.init(jax.random.PRNGKey(1), x)
  with mock.patch.object(layers, "cpu_formulations", lambda: matmul_form):
    mine = make()
    # Same parameter names, shapes and initial values as the flax layer: checkpoints stay compatible.
    chex.assert_trees_all_equal(mine.init(jax.random.PRNGKey(1), x), variables)
    dy = jax.random.normal(jax.random.PRNGKey(2), ref.apply(variables, x).shape)
    loss = lambda m: lambda v, x: jnp.sum(m.apply(v, x) * dy)
    got, want = jax.grad(loss(mine), (0, 1))(variables, x), jax.grad(loss(ref), (0, 1))(variables, x)
    np.testing.assert_allclose(mine.apply(variables, x), ref.apply(variables, x), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(got, want, rtol=1e-4, atol=1e-4)


def test_unet_parameters_are_unchanged_by_the_cpu_layers():
  """The U-Net built from layers.Conv/ConvTranspose has the tree (names, shapes) of the nn.Conv U-Net."""
  model = models.get_model(_cfg())
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)), train=False))
  names = {"/".join(k.key for k in path) for path, _ in jax.tree_util.tree_flatten_with_path(shapes)[0]}
  assert "params/ConvBlock_0/Conv_0/kernel" in names and "params/ConvTranspose_0/kernel" in names
  assert "params/ConvTranspose_0/bias" in names and "params/ConvBlock_0/Conv_0/bias" not in names

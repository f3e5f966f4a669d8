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


@pytest.mark.parametrize("cpu_form", [True, False], ids=["cpu-sums", "reduce"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_batch_norm_equals_flax_in_training_and_evaluation(cpu_form, dtype):
  x = (jax.random.normal(jax.random.PRNGKey(0), (3, 10, 6, 5)) * 3 + 2).astype(dtype)
  kw = dict(momentum=0.9, epsilon=1e-5, dtype=dtype, scale_init=nn.initializers.normal(1.0))
  ref, mine = nn.BatchNorm(use_running_average=False, **kw), layers.BatchNorm(use_running_average=False, **kw)
  tol = dict(rtol=1e-5, atol=1e-5) if dtype == jnp.float32 else dict(rtol=2e-2, atol=2e-2)
  with mock.patch.object(layers, "cpu_formulations", lambda: cpu_form):
    variables = ref.init(jax.random.PRNGKey(1), x)
    chex.assert_trees_all_equal(mine.init(jax.random.PRNGKey(1), x), variables)   # names, shapes, values
    variables = {"params": {"scale": variables["params"]["scale"], "bias": jnp.arange(5.0) - 2},
                 "batch_stats": variables["batch_stats"]}
    dy = jax.random.normal(jax.random.PRNGKey(2), x.shape)

    def loss(m):
      def f(params, x):
        y, updates = m.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                             mutable=["batch_stats"])
        return jnp.sum(y.astype(jnp.float32) * dy), (y, updates["batch_stats"])
      return jax.jit(jax.grad(f, (0, 1), has_aux=True))

    (got_grads, (got_y, got_stats)) = loss(mine)(variables["params"], x)
    (want_grads, (want_y, want_stats)) = loss(ref)(variables["params"], x)
    assert got_y.dtype == want_y.dtype == dtype
    chex.assert_trees_all_close(got_y.astype(jnp.float32), want_y.astype(jnp.float32), **tol)
    chex.assert_trees_all_close(got_stats, want_stats, rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(got_grads, want_grads, rtol=1e-4 if dtype == jnp.float32 else 5e-2,
                                atol=1e-4 if dtype == jnp.float32 else 5e-2)
    evaluated = {"params": variables["params"], "batch_stats": want_stats}
    chex.assert_trees_all_close(
        layers.BatchNorm(use_running_average=True, **kw).apply(evaluated, x).astype(jnp.float32),
        nn.BatchNorm(use_running_average=True, **kw).apply(evaluated, x).astype(jnp.float32), **tol)


def test_channel_sums_are_as_accurate_as_a_float64_sum():
  """Two-stage sums keep float32 rounding at the level of XLA's own tree reduction.

  (jaxlib 0.10.2's one-stage `ones @ rows` dot was ~100x worse; 0.12.1's is only ~1.5x worse, so the
  comparison here is with the reduction, the accuracy channel_sums promises, not with that dot.)"""
  a = jax.random.normal(jax.random.PRNGKey(0), (4, 128, 128, 16)) + 1.0
  exact = np.asarray(a, np.float64).reshape(-1, 16).sum(0)
  got = np.asarray(jax.jit(layers.channel_sums)(a), np.float64)
  np.testing.assert_allclose(got, exact, rtol=1e-6)
  reduced = np.asarray(jax.jit(lambda x: x.reshape(-1, 16).sum(0))(a), np.float64)
  sequential = np.cumsum(np.asarray(a).reshape(-1, 16), axis=0, dtype=np.float32)[-1].astype(np.float64)
  err = lambda x: np.max(np.abs(x - exact))
  assert err(got) <= 4 * err(reduced)        # measured 2.1x on jaxlib 0.12.1
  assert err(sequential) > 10 * err(got)     # what a float32 sum without blocking would give


@pytest.mark.parametrize("shape", [(4, 256, 256, 16), (2, 7, 9, 3), (8, 16, 16, 256), (1, 1, 1, 4)])
def test_channel_sum_rows_never_straddle_two_images(shape):
  per_image, pixels = int(np.prod(shape[1:-1])), int(np.prod(shape[:-1]))
  k = layers._rows_per_sum(per_image, pixels)
  assert per_image % k == 0 and k * k <= pixels
  a = jax.random.normal(jax.random.PRNGKey(0), shape)
  np.testing.assert_allclose(layers.channel_sums(a), a.reshape(-1, shape[-1]).sum(0), rtol=1e-5, atol=1e-4)


def test_batch_norm_statistics_are_global_over_a_sharded_batch():
  """Under the data-parallel jit the CPU BatchNorm's sums run over the whole batch, on any device count."""
  from jax.sharding import Mesh, NamedSharding, PartitionSpec as P   # noqa: PLC0415
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 8, 8, 3)) * 2 + 1
  bn = layers.BatchNorm(use_running_average=False)
  variables = bn.init(jax.random.PRNGKey(1), x)
  apply = jax.jit(lambda v, x: bn.apply(v, x, mutable=["batch_stats"]))
  with mock.patch.object(layers, "cpu_formulations", lambda: True):
    one = apply(variables, x)
    mesh = Mesh(np.array(jax.devices()[:4]), ("data",))
    four = apply(variables, jax.device_put(x, NamedSharding(mesh, P("data"))))
  chex.assert_trees_all_close(one, four, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cpu_form", [True, False], ids=["corners", "reduce-window"])
def test_max_pool_2x2_equals_flax_in_values_and_gradients_with_ties(cpu_form):
  x = jax.nn.relu(jax.random.normal(jax.random.PRNGKey(0), (2, 8, 6, 3)))      # ReLU zeros tie
  x = x.at[0, 0, 0, 0].set(5.0).at[0, 0, 1, 0].set(5.0).at[1, 3, 2, 1].set(4.0).at[1, 2, 3, 1].set(4.0)
  dy = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 3, 3))

  def pooled_and_gradient(pool):
    y, vjp = jax.vjp(pool, x)
    return y, vjp(dy)[0]

  with mock.patch.object(layers, "cpu_formulations", lambda: cpu_form):
    got = jax.jit(pooled_and_gradient, static_argnums=0)(layers.max_pool_2x2)
  want = pooled_and_gradient(lambda x: nn.max_pool(x, (2, 2), strides=(2, 2)))
  np.testing.assert_array_equal(got[0], want[0])
  np.testing.assert_array_equal(got[1], want[1])    # each window's gradient on its first maximum
  assert float(got[1][0, 0, 0, 0]) == float(dy[0, 0, 0, 0]) and float(got[1][0, 0, 1, 0]) == 0.0


def test_max_pool_2x2_of_odd_sizes_floors_like_flax():
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 7, 5, 2))
  with mock.patch.object(layers, "cpu_formulations", lambda: True):
    np.testing.assert_array_equal(layers.max_pool_2x2(x), nn.max_pool(x, (2, 2), strides=(2, 2)))


def test_unet_parameters_are_unchanged_by_the_cpu_layers():
  """The U-Net built from layers.Conv/ConvTranspose has the tree (names, shapes) of the nn.Conv U-Net."""
  model = models.get_model(_cfg())
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)), train=False))
  names = {"/".join(k.key for k in path) for path, _ in jax.tree_util.tree_flatten_with_path(shapes)[0]}
  assert "params/ConvBlock_0/Conv_0/kernel" in names and "params/ConvTranspose_0/kernel" in names
  assert "params/ConvTranspose_0/bias" in names and "params/ConvBlock_0/Conv_0/bias" not in names

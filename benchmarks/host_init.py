"""Model variables that compile fast on CPU, for tests and benchmarks (not for training).

`model.init` under `jax.jit` compiles one random program per parameter tensor, which takes XLA:CPU seconds
to minutes for the larger families (HRNet-W18 at 32x32: 24.8 s even with the non-partitionable threefry
that `crackjax.training.state.create` uses, against 2.4 s here). `host_variables` keeps the model's own
initializers for everything except the kernels of convolutions with more than one output channel, which it
draws on the host (He normal over fan-in); XLA then compiles only the constants and the few 1-channel logit
heads. Shapes, dtypes and tree structure equal `model.init`'s; the values of those kernels differ, so use
it where timings or shapes matter, never for a training run's initial state.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def host_variables(model, size: int, seed: int = 0) -> dict:
  """`model.init`'s variables for a `[1, size, size, 3]` input, multi-channel conv kernels host-drawn."""
  x = jnp.zeros((1, size, size, 3))
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(seed), x, train=False))
  host = lambda p, a: p[-1].key == "kernel" and a.shape[-1] > 1
  drop_kernels = lambda v: jax.tree_util.tree_map_with_path(lambda p, a: None if host(p, a) else a, v)
  constants = jax.jit(lambda k: drop_kernels(model.init(k, x, train=False)))(jax.random.PRNGKey(seed))
  rng = np.random.default_rng(seed)

  def leaf(path, shape, const):
    if not host(path, shape):
      return const
    fan_in = math.prod(shape.shape[:-1])
    return (rng.standard_normal(shape.shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)

  return jax.tree_util.tree_map_with_path(
      leaf, shapes, jax.tree.map(lambda s, c: c, shapes, constants, is_leaf=lambda v: v is None))

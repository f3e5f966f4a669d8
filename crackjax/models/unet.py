"""U-Net (Ronneberger et al., MICCAI 2015) in Flax Linen, NHWC, with BatchNorm.

`depth` down-sampling levels with `base_channels * 2**level` channels, two 3x3 conv-BN-ReLU per level,
2x2 max-pool down, 2x2 transposed-conv up, skip concatenation, 1x1 conv to one logit. The original
network is `base_channels=64, depth=4` (31.0M parameters at 3 input channels). Inputs must have
H and W divisible by 2**depth.

BatchNorm statistics are global under the data-parallel step: the step is a global-view `jax.jit`
over a batch sharded on the `data` mesh axis, so the means XLA computes are over the whole batch.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax.numpy as jnp

from crackjax import errors
from crackjax.models import layers
from crackjax.models import options
from crackjax.models import output_bias
from crackjax.models import register


class ConvBlock(nn.Module):
  """Two (3x3 conv, BatchNorm, ReLU)."""
  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(layers.BatchNorm, use_running_average=not train, momentum=0.9,
                             dtype=self.dtype)
    for _ in range(2):
      x = nn.Conv(self.features, (3, 3), use_bias=False, dtype=self.dtype)(x)
      x = nn.relu(norm()(x))
    return x


class UNet(nn.Module):
  """`[B, H, W, C] float32` in [0, 1] -> `[B, H, W, 1] float32` logits."""
  base_channels: int = 16
  depth: int = 4
  dtype: jnp.dtype = jnp.float32
  output_prior: float = 0.01

  @nn.compact
  def __call__(self, x, train: bool = False):
    stride = 2 ** self.depth
    if x.shape[1] % stride or x.shape[2] % stride:
      raise errors.UserError(f"UNet(depth={self.depth}) needs H and W divisible by {stride}, got {x.shape}.")
    x = ((x - 0.5) / 0.25).astype(self.dtype)
    skips = []
    for level in range(self.depth):
      x = ConvBlock(self.base_channels * 2 ** level, self.dtype)(x, train)
      skips.append(x)
      x = layers.max_pool_2x2(x)
    x = ConvBlock(self.base_channels * 2 ** self.depth, self.dtype)(x, train)
    for level in reversed(range(self.depth)):
      features = self.base_channels * 2 ** level
      x = layers.ConvTranspose(features, dtype=self.dtype)(x)
      x = jnp.concatenate([x, skips[level]], axis=-1)
      x = ConvBlock(features, self.dtype)(x, train)
    x = nn.Conv(1, (1, 1), dtype=self.dtype, bias_init=output_bias(self.output_prior))(x)
    return x.astype(jnp.float32)


@register("unet")
def build(model_config) -> UNet:
  options.no_backbone(model_config)
  options.width(model_config, None)      # U-Net's width is model.base_channels
  options.no_side_outputs(model_config)
  return UNet(base_channels=model_config.base_channels, depth=model_config.depth,
              dtype=options.dtype(model_config), output_prior=options.output_prior(model_config))

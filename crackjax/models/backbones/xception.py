"""Aligned Xception-65 (Chen et al., ECCV 2018, DeepLabv3+ Sec. 3.3), the DeepLab "modified" Xception.

Entry flow: 3x3/2 conv (32) and 3x3 conv (64), then Xception modules of three 3x3 separable convs
with 128, 256 and 728 channels, each with stride 2 on its last separable conv and a 1x1/2 projected
shortcut; middle flow: 16 modules of 728 channels with identity shortcuts; exit flow: a module
(728, 1024, 1024) with stride 2 and a module (1536, 1536, 2048) without shortcut whose separable
convs carry their own ReLUs. Every separable conv has BatchNorm after the depthwise and after the
pointwise conv (epsilon 1e-3); modules other than the last start each separable conv with a ReLU.
For output stride 16 the exit-flow stride becomes dilation 2.

Reference implementation: timm `xception_aligned.py` `xception65` ("compatible with TF weights" of
the DeepLab model zoo); module names follow its state dict (`stem_0/conv`, `blocks_3/stack/conv2/
conv_dw`, ...), so its ImageNet weights convert 1:1
(`convert_weights --model deeplabv3plus --backbone xception65`).
Parameters (timm 1.0.31): 39,916,312 with the 1000-class classifier, 37,867,312 without, which is
what this trunk has.

Output dict: `c2` (stride 4, 256 ch: the ReLU'd input of the entry-flow module 2's strided conv, the
DeepLabv3+ decoder's low-level feature) and `c5` (stride 16 or 32, 2048 ch).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers


EPS = 1e-3
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)   # TF-Inception preprocessing: [-1, 1]
MIDDLE_BLOCKS = {"xception65": 16, "xception41": 8}   # timm xception65 / xception41


class SeparableConv(nn.Module):
  """timm's SeparableConv2d: depthwise (stride, dilation) -> BN [-> ReLU] -> 1x1 -> BN [-> ReLU]."""
  features: int
  stride: int = 1
  dilation: int = 1
  act: bool = False
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    c = x.shape[-1]
    bn = lambda name: layers.batch_norm(train, self.dtype, name=name, epsilon=EPS)
    act = nn.relu if self.act else (lambda y: y)
    x = layers.conv(c, 3, self.stride, self.dilation, groups=c, dtype=self.dtype, name="conv_dw")(x)
    x = act(bn("bn_dw")(x))
    x = layers.conv(self.features, 1, dtype=self.dtype, name="conv_pw")(x)
    return act(bn("bn_pw")(x))


class Stack(nn.Module):
  """The three separable convs of a module; returns (output, input of the third conv after ReLU)."""
  features: tuple
  stride: int
  dilation: int
  start_with_relu: bool
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    tap = x
    for i, f in enumerate(self.features):
      if self.start_with_relu:
        x = nn.relu(x)
      if i == 2:
        tap = x
      x = SeparableConv(f, self.stride if i == 2 else 1, self.dilation, act=not self.start_with_relu,
                        dtype=self.dtype, name=f"conv{i + 1}")(x, train)
    return x, tap


class XceptionModule(nn.Module):
  features: tuple
  stride: int = 1
  dilation: int = 1
  start_with_relu: bool = True
  no_skip: bool = False
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    y, tap = Stack(self.features, self.stride, self.dilation, self.start_with_relu, self.dtype,
                   name="stack")(x, train)
    if self.no_skip:
      return y, tap
    if self.features[-1] != x.shape[-1] or self.stride != 1:
      x = layers.ConvBN(self.features[-1], 1, self.stride, relu=False, epsilon=EPS, dtype=self.dtype,
                        name="shortcut")(x, train)
    return y + x, tap


class AlignedXception(nn.Module):
  """The convolutional trunk (no classifier); `output_stride` in {8, 16, 32}."""
  variant: str = "xception65"
  output_stride: int = 16
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool) -> dict:
    if self.output_stride not in (8, 16, 32):
      raise ValueError(f"Xception output_stride must be 8, 16 or 32, got {self.output_stride}.")
    x = layers.ConvBN(32, 3, 2, epsilon=EPS, dtype=self.dtype, name="stem_0")(x, train)
    x = layers.ConvBN(64, 3, 1, epsilon=EPS, dtype=self.dtype, name="stem_1")(x, train)
    cfg = [((128,) * 3, 2, True, False), ((256,) * 3, 2, True, False), ((728,) * 3, 2, True, False)]
    cfg += [((728,) * 3, 1, True, False)] * MIDDLE_BLOCKS[self.variant]
    cfg += [((728, 1024, 1024), 2, True, False), ((1536, 1536, 2048), 1, False, True)]
    feats, stride, dilation = {}, 2, 1
    for i, (features, s, start_with_relu, no_skip) in enumerate(cfg):
      block_dilation = dilation          # timm: a block whose stride is dropped keeps the old dilation
      if s > 1 and stride * s > self.output_stride:
        dilation, s = dilation * s, 1
      elif s > 1:
        stride *= s
      x, tap = XceptionModule(features, s, block_dilation, start_with_relu, no_skip, self.dtype,
                              name=f"blocks_{i}")(x, train)
      if i == 1:
        feats["c2"] = tap                 # stride 4, 256 channels
    feats["c5"] = x
    return feats

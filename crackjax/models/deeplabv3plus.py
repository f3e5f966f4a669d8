"""DeepLabv3+ (Chen, Zhu, Papandreou, Schroff & Adam, ECCV 2018) on ResNet-50 or Xception-65.

Encoder: the backbone at output stride 16 (ResNet-50: layer4 dilated; Xception-65: exit flow dilated)
and ASPP: a 1x1 conv, three 3x3 atrous *separable* convs at rates 6, 12, 18, and image pooling
(global average, 1x1 conv, upsampled), each 256 channels with BN + ReLU, concatenated and projected
by a 1x1 conv to 256. Decoder: the low-level feature (stride 4: ResNet layer1, Xception entry-flow
module 2) reduced to 48 channels by a 1x1 conv, concatenated with the x4-upsampled ASPP output,
two 3x3 separable convs (256), a 1x1 conv to the logits, bilinear x4 to the input.
Separable convs are depthwise -> BN -> ReLU -> pointwise -> BN -> ReLU, as in the TF DeepLab code
(`aspp_with_separable_conv`, `decoder_use_separable_conv`).

Reference implementation for the parameter counts: segmentation_models_pytorch 0.6.0
`DeepLabV3Plus` (separable ASPP and decoder convs, output stride 16), one class, counted in PyTorch:
26,677,585 (`resnet50`) and 41,036,865 (`tu-xception65`, i.e. timm's aligned Xception-65). Ours:
26,690,993 (+0.05%) and 41,050,273 (+0.03%); smp differs in having one separable conv after ASPP and
one after the concatenation (TF DeepLab: two after the concatenation), BN only after the pointwise
half, and a 3x3 rather than 1x1 classifier. The ASPP projection's dropout (0.1) is omitted.
Input: H, W multiples of 16 (32 for the zoo-wide guarantee). Output `[B, H, W, 1]` float32 logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers
from crackjax.models import options
from crackjax.models import register
from crackjax.models.backbones import resnet
from crackjax.models.backbones import xception


RATES = (6, 12, 18)      # at output stride 16
CHANNELS = 256
LOW_LEVEL = 48
BACKBONES = ("resnet50", "xception65", "resnet101", "resnet18", "resnet34", "xception41")


class ASPP(nn.Module):
  rates: tuple = RATES
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    branches = [layers.ConvBN(CHANNELS, 1, dtype=self.dtype, name="conv1x1")(x, train)]
    for i, r in enumerate(self.rates):
      branches.append(layers.SeparableConvBN(CHANNELS, 3, r, dtype=self.dtype, name=f"atrous{i}")(x, train))
    pooled = jnp.mean(x, axis=(1, 2), keepdims=True)
    pooled = layers.ConvBN(CHANNELS, 1, dtype=self.dtype, name="image_pool")(pooled, train)
    branches.append(jnp.broadcast_to(pooled, x.shape[:3] + (CHANNELS,)))
    return layers.ConvBN(CHANNELS, 1, dtype=self.dtype, name="project")(
        jnp.concatenate(branches, axis=-1), train)


class DeepLabV3Plus(nn.Module):
  """`[B, H, W, 3] float32` in [0, 1] -> `[B, H, W, 1] float32` logits."""
  backbone: str = "resnet50"
  output_prior: float = 0.01
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers.check_divisible(x, 16, "DeepLabv3+")
    size = x.shape[1:3]
    if self.backbone.startswith("xception"):
      x = layers.normalize(x, xception.MEAN, xception.STD, self.dtype)
      feats = xception.AlignedXception(self.backbone, 16, self.dtype, name="backbone")(x, train)
    else:
      x = layers.normalize(x, resnet.MEAN, resnet.STD, self.dtype)
      feats = resnet.ResNet(self.backbone, 16, self.dtype, name="backbone")(x, train)
    y = ASPP(dtype=self.dtype, name="aspp")(feats["c5"], train)
    low = layers.ConvBN(LOW_LEVEL, 1, dtype=self.dtype, name="low_level")(feats["c2"], train)
    y = jnp.concatenate([layers.resize(y, low.shape[1:3]), low], axis=-1)
    y = layers.SeparableConvBN(CHANNELS, 3, dtype=self.dtype, name="decoder0")(y, train)
    y = layers.SeparableConvBN(CHANNELS, 3, dtype=self.dtype, name="decoder1")(y, train)
    y = layers.logit_head(self.output_prior, self.dtype, "classifier")(y)
    return layers.resize(y, size).astype(jnp.float32)


@register("deeplabv3plus")
def build(model_config) -> DeepLabV3Plus:
  options.width(model_config, None)
  options.no_side_outputs(model_config)
  return DeepLabV3Plus(backbone=options.backbone(model_config, BACKBONES),
                       output_prior=options.output_prior(model_config),
                       dtype=options.dtype(model_config))

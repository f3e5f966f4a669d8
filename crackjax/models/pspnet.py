"""PSPNet (Zhao et al., CVPR 2017): dilated ResNet-50 (output stride 8) + pyramid pooling 1/2/3/6.

Reference implementation: hszhao/semseg `model/pspnet.py` (the authors' PyTorch code): PPM with
`2048 / 4 = 512` channels per bin (adaptive average pool, 1x1 conv, BN, ReLU, bilinear upsampling
with align_corners=True), concatenation with the 2048-channel features, `cls` = 3x3 conv 4096->512,
BN, ReLU, 1x1 conv to the classes, bilinear upsampling x8; during training an auxiliary head on
layer3 (3x3 conv 1024->256, BN, ReLU, 1x1 conv) whose loss enters with weight 0.4.

Differences: the trunk is torchvision's ResNet-50 (7x7 stem, dilation as in torchvision's
`replace_stride_with_dilation`) so torchvision ImageNet weights load, where semseg uses a deep
3x(3x3) stem; the Dropout2d(0.1) before the classifiers is omitted (the train step carries no dropout
RNG). The auxiliary head is this model's one side output (`model.deep_supervision_weights`, default
(0.4,)); inference uses the main head only.

Parameters with one output class (auxiliary head included): 48,942,402 (resnet50); the reference
semseg PSPNet-50 with one class (its deep stem, aux head included), counted in PyTorch: 49,066,178
(-0.25%).
Input: `[B, H, W, 3]` in [0, 1], H and W multiples of 8 (any size works for the pooling; 32 is the
zoo-wide guarantee). Output `[B, H, W, 1]` float32 logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers
from crackjax.models import options
from crackjax.models import register
from crackjax.models.backbones import resnet


BINS = (1, 2, 3, 6)
AUX_WEIGHT = 0.4   # semseg's aux_weight


class PSPNet(nn.Module):
  """`[B, H, W, 3] float32` in [0, 1] -> `[B, H, W, 1] float32` logits (dict with the aux head when
  `train`)."""
  backbone: str = "resnet50"
  side_weights: tuple = (AUX_WEIGHT,)
  output_prior: float = 0.01
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers.check_divisible(x, 8, "PSPNet")
    size = x.shape[1:3]
    x = layers.normalize(x, resnet.MEAN, resnet.STD, self.dtype)
    feats = resnet.ResNet(self.backbone, output_stride=8, dtype=self.dtype, name="backbone")(x, train)
    c5 = feats["c5"]
    pyramid = [c5]
    for i, bins in enumerate(BINS):
      y = layers.adaptive_avg_pool(c5, bins)
      y = layers.ConvBN(c5.shape[-1] // len(BINS), 1, dtype=self.dtype, name=f"ppm_{i}")(y, train)
      pyramid.append(layers.resize(y, c5.shape[1:3], align_corners=True))
    y = jnp.concatenate(pyramid, axis=-1)
    y = layers.ConvBN(512, 3, dtype=self.dtype, name="cls_0")(y, train)
    y = layers.logit_head(self.output_prior, self.dtype, "cls_1")(y)
    logits = layers.resize(y, size, align_corners=True).astype(jnp.float32)
    if not (train or self.is_initializing()):
      return logits
    aux = layers.ConvBN(256, 3, dtype=self.dtype, name="aux_0")(feats["c4"], train)
    aux = layers.logit_head(self.output_prior, self.dtype, "aux_1")(aux)
    aux = layers.resize(aux, size, align_corners=True)
    return layers.side_outputs(logits, [aux], self.side_weights) if train else logits


@register("pspnet")
def build(model_config) -> PSPNet:
  options.width(model_config, None)
  return PSPNet(backbone=options.backbone(model_config, ("resnet50", "resnet101", "resnet18", "resnet34")),
                side_weights=options.side_weights(model_config, (AUX_WEIGHT,), "the layer3 auxiliary head"),
                output_prior=options.output_prior(model_config), dtype=options.dtype(model_config))

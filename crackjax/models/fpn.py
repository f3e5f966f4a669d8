"""FPN for semantic segmentation: ResNet-50 + feature pyramid + the Panoptic-FPN semantic head.

Lin et al. (CVPR 2017) feature pyramid: lateral 1x1 convs (C2..C5 -> 256) with a nearest-neighbour
x2 top-down pathway and 3x3 output convs giving P2..P5 (convs with bias, no norm). Semantic head of
Kirillov et al. ("Panoptic Feature Pyramid Networks", CVPR 2019): from each P_k, `k - 2` stages (at
least one) of 3x3 conv (128 ch) + norm + ReLU + bilinear x2, bringing every level to stride 4;
the four are summed, a 1x1 conv predicts the logits, upsampled x4 bilinearly.

Reference implementation: detectron2 `FPN` + `SemSegFPNHead` (conv_dims 128, common_stride 4), as
in its `semantic_R_50_FPN_1x` config. Differences: BatchNorm instead of GroupNorm in the head (same
parameter count; statistics global under the data-parallel step); the torchvision ResNet-50 trunk.

Parameters with one output class: 28,476,353 (resnet50); the reference counted in PyTorch
(torchvision ResNet-50 trunk + detectron2's FPN and SemSegFPNHead layers, one class): 28,476,353.
Input: H, W multiples of 32. Output `[B, H, W, 1]` float32 logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers
from crackjax.models import options
from crackjax.models import register
from crackjax.models.backbones import resnet


PYRAMID = 256
HEAD = 128


class FPNSegmentation(nn.Module):
  """`[B, H, W, 3] float32` in [0, 1] -> `[B, H, W, 1] float32` logits."""
  backbone: str = "resnet50"
  output_prior: float = 0.01
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers.check_divisible(x, 32, "FPN")
    size = x.shape[1:3]
    x = layers.normalize(x, resnet.MEAN, resnet.STD, self.dtype)
    feats = resnet.ResNet(self.backbone, output_stride=32, dtype=self.dtype, name="backbone")(x, train)
    conv = lambda f, k, name: layers.conv(f, k, use_bias=True, dtype=self.dtype, name=name)
    # Top-down pathway: P5 = lateral(C5); P_k = lateral(C_k) + up2(P_{k+1}); then 3x3 output convs.
    pyramid, top = {}, None
    for k in (5, 4, 3, 2):
      lateral = conv(PYRAMID, 1, f"fpn_lateral{k}")(feats[f"c{k}"])
      top = lateral if top is None else lateral + layers.upsample_nearest(top, 2)
      pyramid[k] = conv(PYRAMID, 3, f"fpn_output{k}")(top)
    # Semantic head: every level to stride 4, summed.
    total = 0
    for k in (2, 3, 4, 5):
      y = pyramid[k]
      for s in range(max(1, k - 2)):
        y = layers.ConvBN(HEAD, 3, dtype=self.dtype, name=f"sem_p{k}_{s}")(y, train)
        if k > 2:
          y = layers.resize(y, (y.shape[1] * 2, y.shape[2] * 2))
      total = total + y
    logits = layers.logit_head(self.output_prior, self.dtype, "predictor")(total)
    return layers.resize(logits, size).astype(jnp.float32)


@register("fpn")
def build(model_config) -> FPNSegmentation:
  options.width(model_config, None)
  options.no_side_outputs(model_config)
  return FPNSegmentation(backbone=options.backbone(model_config, ("resnet50", "resnet101", "resnet18",
                                                                   "resnet34")),
                         output_prior=options.output_prior(model_config),
                         dtype=options.dtype(model_config))

"""ResNet-18/34/50/101 backbones (He et al., CVPR 2016) as in torchvision, dilated for dense prediction.

Matches `torchvision.models.resnet*` (v1.5: stride on the 3x3 conv of the bottleneck) including
`replace_stride_with_dilation`: a stage whose stride is replaced keeps the previous dilation in its
first block and uses `2 * previous` in the others. Module names follow torchvision's state-dict keys
(`conv1`, `bn1`, `layer3_2/conv2`, `layer1_0/downsample_0`, ...), so ImageNet weights convert 1:1 with
`python -m crackjax.models.convert_weights --model pspnet --backbone resnet50 ...`.

Parameters (measured on torchvision 0.28): resnet50 25,557,032 with its 1000-class fc layer, i.e.
23,508,032 for the convolutional trunk used here; resnet101 42,500,160 for the trunk.

Input `[B, H, W, 3]` in the compute dtype, already normalised (ImageNet mean/std); output a dict of
feature maps: `c1` (stride 2, 64 ch, after the stem ReLU), `c2` (stride 4, 256 ch), `c3` (8, 512),
`c4` (8 or 16, 1024), `c5` (8, 16 or 32, 2048) depending on `output_stride`; ResNet-18/34 have
a quarter of those channels from `c2` on (64, 128, 256, 512).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers


# name -> (blocks per stage, bottleneck?)
STAGES = {"resnet18": ((2, 2, 2, 2), False), "resnet34": ((3, 4, 6, 3), False),
          "resnet50": ((3, 4, 6, 3), True), "resnet101": ((3, 4, 23, 3), True)}
MEAN, STD = layers.IMAGENET_MEAN, layers.IMAGENET_STD


class BasicBlock(nn.Module):
  """3x3 (stride, dilation) -> 3x3, identity or projected shortcut (ResNet-18/34)."""
  planes: int
  stride: int = 1
  dilation: int = 1
  downsample: bool = False
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    bn = lambda name: layers.batch_norm(train, self.dtype, name=name)
    y = layers.conv(self.planes, 3, self.stride, self.dilation, dtype=self.dtype, name="conv1")(x)
    y = nn.relu(bn("bn1")(y))
    y = bn("bn2")(layers.conv(self.planes, 3, 1, self.dilation, dtype=self.dtype, name="conv2")(y))
    if self.downsample:
      x = layers.conv(self.planes, 1, self.stride, dtype=self.dtype, name="downsample_0")(x)
      x = bn("downsample_1")(x)
    return nn.relu(y + x)


class Bottleneck(nn.Module):
  """1x1 -> 3x3 (stride, dilation) -> 1x1 (x4 channels), identity or projected shortcut."""
  planes: int
  stride: int = 1
  dilation: int = 1
  downsample: bool = False
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    bn = lambda name: layers.batch_norm(train, self.dtype, name=name)
    y = nn.relu(bn("bn1")(layers.conv(self.planes, 1, dtype=self.dtype, name="conv1")(x)))
    y = layers.conv(self.planes, 3, self.stride, self.dilation, dtype=self.dtype, name="conv2")(y)
    y = nn.relu(bn("bn2")(y))
    y = bn("bn3")(layers.conv(self.planes * 4, 1, dtype=self.dtype, name="conv3")(y))
    if self.downsample:
      x = layers.conv(self.planes * 4, 1, self.stride, dtype=self.dtype, name="downsample_0")(x)
      x = bn("downsample_1")(x)
    return nn.relu(y + x)


class ResNet(nn.Module):
  """torchvision ResNet trunk (no pooling/fc); `output_stride` in {8, 16, 32}."""
  depth: str = "resnet50"
  output_stride: int = 32
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool) -> dict:
    if self.output_stride not in (8, 16, 32):
      raise ValueError(f"ResNet output_stride must be 8, 16 or 32, got {self.output_stride}.")
    x = layers.conv(64, 7, 2, dtype=self.dtype, name="conv1")(x)
    x = nn.relu(layers.batch_norm(train, self.dtype, name="bn1")(x))
    feats = {"c1": x}
    x = layers.max_pool_3x3_s2(x)
    # torchvision replace_stride_with_dilation: layer4 for OS16, layer3 and layer4 for OS8.
    dilate = {2: False, 3: self.output_stride <= 8, 4: self.output_stride <= 16}
    dilation, inplanes = 1, 64
    stage_blocks, bottleneck = STAGES[self.depth]
    block, expansion = (Bottleneck, 4) if bottleneck else (BasicBlock, 1)
    for stage, blocks in enumerate(stage_blocks, start=1):
      planes = 64 * 2 ** (stage - 1)
      stride = 1 if stage == 1 else 2
      previous = dilation
      if dilate.get(stage, False):
        dilation, stride = dilation * stride, 1
      for b in range(blocks):
        x = block(planes, stride if b == 0 else 1, previous if b == 0 else dilation,
                  downsample=(b == 0 and (stride != 1 or inplanes != planes * expansion)),
                  dtype=self.dtype, name=f"layer{stage}_{b}")(x, train)
        inplanes = planes * expansion
      feats[f"c{stage + 1}"] = x
    return feats

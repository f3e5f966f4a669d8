"""VGG-16 (Simonyan & Zisserman, ICLR 2015) as in torchvision, optionally with fc6/fc7 as convolutions.

Module names are torchvision's `features.<i>` indices (`features_0` is conv1_1; with batch norm,
`vgg16_bn`, `features_1` is its BatchNorm), and fc6/fc7 are torchvision's `classifier.0` and
`classifier.3` recast as a 7x7 and a 1x1 convolution, the "convolutionalisation" of FCN (Long et al.,
CVPR 2015). So ImageNet weights convert 1:1 (`convert_weights --model fcn --backbone vgg16`).

Parameters (torchvision 0.28): vgg16 138,357,544 with its classifier: 14,714,688 in the 13 convs,
102,764,544 in fc6 and 16,781,312 in fc7 (fc8, 4,097,000, is not used). vgg16_bn adds 8,448 BN
parameters to the convs.

Input `[B, H, W, 3]` normalised in the compute dtype; output dict: `pool3` (stride 8, 256 ch),
`pool4` (16, 512), `pool5` (32, 512) and, with `fc_width > 0`, `fc7` (stride 32, `fc_width` ch).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers


# torchvision cfg "D": channels per conv, "M" = 2x2 max-pool.
CFG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
MEAN, STD = layers.IMAGENET_MEAN, layers.IMAGENET_STD


class VGG16(nn.Module):
  """The 13 conv layers (and fc6/fc7 as convs when `fc_width > 0`)."""
  batch_norm: bool = False
  fc_width: int = 4096
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool) -> dict:
    feats, index, pools = {}, 0, 0
    for v in CFG16:
      if v == "M":
        x = layers.max_pool_2x2(x)
        pools += 1
        if pools >= 3:
          feats[f"pool{pools}"] = x
        index += 1
        continue
      x = layers.conv(v, 3, use_bias=True, dtype=self.dtype, name=f"features_{index}")(x)
      if self.batch_norm:
        x = layers.batch_norm(train, self.dtype, name=f"features_{index + 1}")(x)
        index += 1
      x = nn.relu(x)
      index += 2                       # the conv (or BN) and its ReLU
    if self.fc_width:
      # fc6: 7x7 conv, padded to keep the stride-32 grid (the original FCN pads the input by 100 and
      # crops instead); fc7: 1x1 conv. The original's dropout after each is omitted (no dropout RNG).
      x = nn.relu(layers.Im2ColConv(self.fc_width, 7, dtype=self.dtype, name="fc6")(x))
      x = nn.relu(layers.conv(self.fc_width, 1, use_bias=True, dtype=self.dtype, name="fc7")(x))
      feats["fc7"] = x
    return feats

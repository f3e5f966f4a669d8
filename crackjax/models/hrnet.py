"""HRNetV2 (Wang et al., TPAMI 2020, "Deep High-Resolution Representation Learning") for segmentation.

Stem: two 3x3/2 conv-BN-ReLU (64 ch) to stride 4; stage 1: bottleneck blocks (64 -> 256 ch); then
stages 2, 3, 4 with 2, 3, 4 parallel branches at strides 4, 8, 16, 32 and `W * (1, 2, 4, 8)`
channels. Each stage repeats a high-resolution module: basic residual blocks within every branch,
then repeated multi-resolution fusion -- every output branch sums all inputs, brought to its
resolution by 1x1 conv + BN + nearest upsampling (from lower resolutions) or by chains of 3x3/2
conv + BN (from higher ones), then ReLU. New branches come from 3x3/2 transitions of the lowest one.
HRNetV2 head: the four branches bilinearly upsampled to stride 4 and concatenated (15W channels),
1x1 conv + BN + ReLU, 1x1 conv to the logits, bilinear x4 to the input.

Variants (`model.backbone`): `hrnetv2` (modules 1/4/3 in stages 2/3/4, 4 blocks per branch; with
`model.width` 18 = HRNetV2-W18, 48 = HRNetV2-W48) and `hrnetv2_small_v2` (HRNetV2-W18-Small-v2:
2 stage-1 blocks, modules 1/3/2, 2 blocks per branch). `model.width` is W (0: 18).

Reference implementation: HRNet/HRNet-Semantic-Segmentation `lib/models/seg_hrnet.py` (the
authors'); trunk module names follow its (and timm's `hrnet.py`) state dict (`transition2_2_0_0`,
`stage3_1/branches_2_3/conv1`, `stage4_0/fuse_layers_3_0_2_0`, ...) so ImageNet weights convert 1:1
(`convert_weights --model hrnet --width 18`). Parameters with one output class: W18 9,636,241,
W48 65,846,401, W18-Small-v2 3,934,701 -- equal to timm's `hrnet_w18/w48/w18_small_v2` trunks plus
the HRNetV2 head counted in PyTorch; with 19 classes 65,859,379 and 3,939,579, which the authors
report as 65.9M (HRNetV2-W48) and 3.9M (W18-Small-v2) in the HRNet-Semantic-Segmentation README.
Input: H, W multiples of 32. Output `[B, H, W, 1]` float32 logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers
from crackjax.models import options
from crackjax.models import register
from crackjax.models.backbones import resnet


# name -> (stage-1 bottleneck blocks, modules in stages 2..4, basic blocks per branch)
VARIANTS = {"hrnetv2": (4, (1, 4, 3), 4), "hrnetv2_small_v2": (2, (1, 3, 2), 2)}
MEAN, STD = layers.IMAGENET_MEAN, layers.IMAGENET_STD


class HighResolutionModule(nn.Module):
  """Parallel branches of basic blocks, then the all-to-all fusion."""
  channels: tuple
  blocks: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, xs: list, train: bool) -> list:
    conv = lambda f, k, s, name: layers.conv(f, k, s, dtype=self.dtype, name=name)
    bn = lambda name: layers.batch_norm(train, self.dtype, name=name)
    xs = list(xs)
    for i, c in enumerate(self.channels):
      for b in range(self.blocks):
        xs[i] = resnet.BasicBlock(c, dtype=self.dtype, name=f"branches_{i}_{b}")(xs[i], train)
    out = []
    for i, ci in enumerate(self.channels):
      total = None
      for j, cj in enumerate(self.channels):
        name = f"fuse_layers_{i}_{j}"
        if j == i:
          y = xs[j]
        elif j > i:         # lower resolution: 1x1 conv + BN, nearest upsampling
          y = bn(f"{name}_1")(conv(ci, 1, 1, f"{name}_0")(xs[j]))
          y = layers.upsample_nearest(y, 2 ** (j - i))
        else:               # higher resolution: (i - j) 3x3/2 convs, ReLU between them
          y = xs[j]
          for k in range(i - j):
            last = k == i - j - 1
            y = bn(f"{name}_{k}_1")(conv(ci if last else cj, 3, 2, f"{name}_{k}_0")(y))
            y = y if last else nn.relu(y)
        total = y if total is None else total + y
      out.append(nn.relu(total))
    return out


class HRNetBackbone(nn.Module):
  """`[B, H, W, 3]` normalised -> list of 4 branch features at strides 4, 8, 16, 32."""
  width: int = 18
  variant: str = "hrnetv2"
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool) -> list:
    stage1_blocks, modules, blocks = VARIANTS[self.variant]
    conv = lambda f, k, s, name: layers.conv(f, k, s, dtype=self.dtype, name=name)
    bn = lambda name: layers.batch_norm(train, self.dtype, name=name)
    x = nn.relu(bn("bn1")(conv(64, 3, 2, "conv1")(x)))
    x = nn.relu(bn("bn2")(conv(64, 3, 2, "conv2")(x)))
    for b in range(stage1_blocks):
      x = resnet.Bottleneck(64, downsample=b == 0, dtype=self.dtype, name=f"layer1_{b}")(x, train)
    xs, prev = [x], (256,)
    for stage, n_modules in zip((2, 3, 4), modules):
      channels = tuple(self.width * 2 ** i for i in range(stage))
      new = []
      for i, c in enumerate(channels):     # transition{stage-1}
        name = f"transition{stage - 1}_{i}"
        if i < len(prev):
          y = xs[i]
          if prev[i] != c:
            y = nn.relu(bn(f"{name}_1")(conv(c, 3, 1, f"{name}_0")(y)))
        else:
          y = xs[-1]
          for k in range(i + 1 - len(prev)):
            out_c = c if k == i - len(prev) else prev[-1]
            y = nn.relu(bn(f"{name}_{k}_1")(conv(out_c, 3, 2, f"{name}_{k}_0")(y)))
        new.append(y)
      xs = new
      for m in range(n_modules):
        xs = HighResolutionModule(channels, blocks, self.dtype, name=f"stage{stage}_{m}")(xs, train)
      prev = channels
    return xs


class HRNetV2(nn.Module):
  """`[B, H, W, 3] float32` in [0, 1] -> `[B, H, W, 1] float32` logits."""
  width: int = 18
  variant: str = "hrnetv2"
  output_prior: float = 0.01
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers.check_divisible(x, 32, "HRNetV2")
    size = x.shape[1:3]
    x = layers.normalize(x, MEAN, STD, self.dtype)
    xs = HRNetBackbone(self.width, self.variant, self.dtype, name="backbone")(x, train)
    y = jnp.concatenate([xs[0]] + [layers.resize(b, xs[0].shape[1:3]) for b in xs[1:]], axis=-1)
    y = layers.conv(y.shape[-1], 1, use_bias=True, dtype=self.dtype, name="last_layer_0")(y)
    y = nn.relu(layers.batch_norm(train, self.dtype, name="last_layer_1")(y))
    y = layers.logit_head(self.output_prior, self.dtype, "last_layer_3")(y)
    return layers.resize(y, size).astype(jnp.float32)


@register("hrnet")
def build(model_config) -> HRNetV2:
  options.no_side_outputs(model_config)
  return HRNetV2(width=options.width(model_config, 18, "HRNet width W"),
                 variant=options.backbone(model_config, tuple(VARIANTS)),
                 output_prior=options.output_prior(model_config), dtype=options.dtype(model_config))

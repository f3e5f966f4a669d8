"""DeepCrack (Liu, Yao, Lu, Xie & Li, Neurocomputing 2019): hierarchical side outputs fused, deeply
supervised.

Reference implementation: the first author's yhlleo/DeepSegmentor `models/deepcrack_networks.py`
(`DeepCrackNet`) and `models/deepcrack_model.py`. The network follows HED (the authors' README:
"Architecture: based on HED"): a VGG-16-style encoder of five stages (2, 2, 3, 3, 3 times 3x3
conv-BN-ReLU without bias, `width * (1, 2, 4, 8, 8)` channels, 2x2 max-pool between stages); each
stage's last feature map gives a 1x1-conv side output that is bilinearly upsampled
(align_corners=True) to the input size -- the decoding path -- and the five side outputs are
concatenated and fused by a 1x1 conv (no bias) into the final prediction. Inputs are scaled to
[-1, 1] as the reference's data loader does.

Deep supervision as in the reference: loss = sum_k w_k L(side_k) + L(fused) with side weights
(0.5, 0.75, 1.0, 0.75, 0.5) (`model.deep_supervision_weights`); inference uses the fused output.
(The step normalises by 1 + sum w_k; see crackjax/training/step.py.)

Differences: one logit per pixel instead of two softmax classes; the side convs have a bias,
initialised to logit(`model.output_prior`), and the fusion weights start at 1/5 (HED's
initialisation), so the untrained network predicts the prior. Not to be confused with Zou et al.'s
SegNet-based DeepCrack (IEEE TIP 2019), a different network.

Parameters (width 64): 14,720,394; the reference DeepCrackNet(ngf=64) counted in PyTorch:
14,720,389 with one class, 14,721,876 with its two.
Input: H, W multiples of 16. Output `[B, H, W, 1]` float32 logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers
from crackjax.models import options
from crackjax.models import register

STAGES = ((1, 2), (2, 2), (4, 3), (8, 3), (8, 3))   # (channel multiple of width, convs)
SIDE_WEIGHTS = (0.5, 0.75, 1.0, 0.75, 0.5)


class DeepCrack(nn.Module):
  """`[B, H, W, 3] float32` in [0, 1] -> `[B, H, W, 1] float32` fused logits (dict with the five side
  outputs when `train`)."""
  width: int = 64
  side_weights: tuple = SIDE_WEIGHTS
  output_prior: float = 0.01
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers.check_divisible(x, 2 ** (len(STAGES) - 1), "DeepCrack")
    size = x.shape[1:3]
    x = ((x - 0.5) / 0.5).astype(self.dtype)         # [-1, 1], as the reference's data loader
    sides = []
    for s, (mult, convs) in enumerate(STAGES, start=1):
      if s > 1:
        x = layers.max_pool_2x2(x)
      for c in range(convs):
        x = layers.ConvBN(self.width * mult, 3, dtype=self.dtype, name=f"conv{s}_{c}")(x, train)
      side = layers.logit_head(self.output_prior, self.dtype, f"side_conv{s}")(x)
      sides.append(layers.resize(side, size, align_corners=True))
    # HED initialises the fusion weights to 1/5: the untrained fused logit is the sides' mean.
    fused = nn.Conv(1, (1, 1), use_bias=False, dtype=self.dtype, name="fuse_conv",
                    kernel_init=nn.initializers.constant(1.0 / len(STAGES)))(
        jnp.concatenate(sides, axis=-1)).astype(jnp.float32)
    return layers.side_outputs(fused, sides, self.side_weights) if train else fused


@register("deepcrack")
def build(model_config) -> DeepCrack:
  options.no_backbone(model_config)
  return DeepCrack(width=options.width(model_config, 64, "base channels"),
                   side_weights=options.side_weights(model_config, SIDE_WEIGHTS, "stages 1-5"),
                   output_prior=options.output_prior(model_config), dtype=options.dtype(model_config))

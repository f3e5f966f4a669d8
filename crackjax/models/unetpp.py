"""UNet++ (Zhou et al., DLMIA 2018, "UNet++: A Nested U-Net Architecture") with deep supervision.

Nodes X^{i,j} (level i = 0..4, column j = 0..4-i) hold two 3x3 conv-BN-ReLU units with
`width * 2**i` channels (width 32 as in the paper); X^{i,0} is the encoder (2x2 max-pool between
levels), and X^{i,j>0} takes the concatenation of X^{i,0..j-1} and the 2x2 stride-2 transposed
convolution of X^{i+1,j-1}. Four 1x1 heads on X^{0,1..4} give the deeply supervised outputs.

Reference implementation: MrGiovanni/UNetPlusPlus `model_logic.py` `Nest_Net` (Keras), whose
docstring gives "Total params: 9,041,601" (one grey input channel, one class). Differences: BatchNorm
instead of dropout after each conv (and so no conv bias), 3 input channels.

Deep supervision: in training the model returns the head on X^{0,4} as `logits` and the heads on
X^{0,1..3} as side outputs, weighted by `model.deep_supervision_weights` (default (1, 1, 1): the
reference sums the four losses with equal weights); inference uses X^{0,4} (the paper's "accurate"
mode would average the four; the full-depth head is what Nest_Net returns without supervision).

Parameters (width 32): 9,045,924; reference 9,041,601 (+0.05%).
Input: H, W multiples of 16. Output `[B, H, W, 1]` float32 logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers
from crackjax.models import options
from crackjax.models import register

DEPTH = 4
SIDE_WEIGHTS = (1.0, 1.0, 1.0)


class Unit(nn.Module):
  """Two (3x3 conv, BatchNorm, ReLU): the reference's `standard_unit`."""
  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = layers.ConvBN(self.features, 3, dtype=self.dtype, name="conv1")(x, train)
    return layers.ConvBN(self.features, 3, dtype=self.dtype, name="conv2")(x, train)


class UNetPlusPlus(nn.Module):
  """`[B, H, W, 3] float32` in [0, 1] -> `[B, H, W, 1] float32` logits (dict with the side heads
  when `train`)."""
  width: int = 32
  side_weights: tuple = SIDE_WEIGHTS
  output_prior: float = 0.01
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers.check_divisible(x, 2 ** DEPTH, "UNet++")
    x = ((x - 0.5) / 0.25).astype(self.dtype)
    ch = [self.width * 2 ** i for i in range(DEPTH + 1)]
    nodes: dict[tuple[int, int], jnp.ndarray] = {}
    for i in range(DEPTH + 1):                      # the encoder column X^{i,0}
      inp = x if i == 0 else layers.max_pool_2x2(nodes[i - 1, 0])
      nodes[i, 0] = Unit(ch[i], self.dtype, name=f"x{i}_0")(inp, train)
    for j in range(1, DEPTH + 1):                   # nested skip pathways, column by column
      for i in range(DEPTH + 1 - j):
        up = nn.ConvTranspose(ch[i], (2, 2), strides=(2, 2), dtype=self.dtype,
                              name=f"up{i + 1}_{j - 1}")(nodes[i + 1, j - 1])
        cat = jnp.concatenate([up] + [nodes[i, k] for k in range(j)], axis=-1)
        nodes[i, j] = Unit(ch[i], self.dtype, name=f"x{i}_{j}")(cat, train)
    head = lambda j: layers.logit_head(self.output_prior, self.dtype, f"output_{j}")(nodes[0, j])
    logits = head(DEPTH).astype(jnp.float32)
    if not (train or self.is_initializing()):
      return logits
    sides = [head(j) for j in range(1, DEPTH)]
    return layers.side_outputs(logits, sides, self.side_weights) if train else logits


@register("unetpp")
def build(model_config) -> UNetPlusPlus:
  options.no_backbone(model_config)
  return UNetPlusPlus(
      width=options.width(model_config, 32, "base channels"),
      side_weights=options.side_weights(model_config, SIDE_WEIGHTS, "heads on X^{0,1}, X^{0,2}, X^{0,3}"),
      output_prior=options.output_prior(model_config), dtype=options.dtype(model_config))

"""crackjax's U-Net (crackjax/models/unet.py) written in PyTorch, for the side-by-side benchmarks.

Same layers as the Flax model: input normalised as (x - 0.5) / 0.25, per level two (3x3 conv without
bias, BatchNorm with momentum 0.1 = Flax 0.9, ReLU), 2x2 max pool, a bottleneck block, 2x2 stride-2
transposed convs with bias, skip concatenation (up-sampled first, as in the Flax model), 1x1 conv head.
PyTorch is an optional extra of the benchmarks (`pip install torch==2.13.0`), never of the package.
"""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Sequential):

  def __init__(self, cin: int, cout: int):
    super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, momentum=0.1),
                     nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                     nn.BatchNorm2d(cout, momentum=0.1), nn.ReLU(inplace=True))


class UNet(nn.Module):
  """`[B, 3, H, W] float32` in [0, 1] -> `[B, 1, H, W]` logits."""

  def __init__(self, base: int = 16, depth: int = 4):
    super().__init__()
    ch = [base * 2 ** i for i in range(depth + 1)]
    self.down = nn.ModuleList([Block(3 if i == 0 else ch[i - 1], ch[i]) for i in range(depth)])
    self.mid = Block(ch[depth - 1], ch[depth])
    self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2)
                             for i in reversed(range(depth))])
    self.dec = nn.ModuleList([Block(2 * ch[i], ch[i]) for i in reversed(range(depth))])
    self.head = nn.Conv2d(ch[0], 1, 1)

  def forward(self, x):
    x = (x - 0.5) / 0.25
    skips = []
    for block in self.down:
      x = block(x)
      skips.append(x)
      x = nn.functional.max_pool2d(x, 2)
    x = self.mid(x)
    for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
      x = dec(torch.cat([up(x), skip], dim=1))
    return self.head(x)

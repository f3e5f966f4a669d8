"""FCN-8s (Long, Shelhamer & Darrell, CVPR 2015) on VGG-16.

VGG-16 convs + fc6 (7x7) / fc7 (1x1) as convolutions, `score_fr` (1x1 on fc7), upsampled x2 and
added to `score_pool4` (1x1 on pool4), upsampled x2 and added to `score_pool3` (1x1 on pool3),
upsampled x8 to the input. As in the reference `voc-fcn8s` (shelhamer/fcn.berkeleyvision.org) the
upsampling is bilinear and not learned (its deconvolutions are initialised bilinear with lr_mult 0);
here it is a fixed bilinear resize, so it has no parameters.

Differences from the reference: SAME-style padding of fc6 and no input padding by 100 px plus
cropping, so that any input whose sides are multiples of 32 maps onto the stride-32 grid exactly; no
dropout (the train step carries no dropout RNG). `model.backbone='vgg16_bn'` puts BatchNorm after
every conv (torchvision's vgg16_bn), which trains from scratch more easily than the original.
`model.width` sets the fc6/fc7 channels (0: 4096 as in the paper).

Parameters with one output class: 134,265,411 (vgg16), 134,273,859 (vgg16_bn); the reference
voc-fcn8s with one class counted in PyTorch (torchvision VGG-16 layers): 134,265,699 (its 288 extra
are the frozen bilinear deconvolutions); with 21 classes 134,489,759, which Long et al. (Table 1)
report as 134M.
Input: H, W multiples of 32. Output `[B, H, W, 1]` float32 logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from crackjax.models import layers
from crackjax.models import options
from crackjax.models import register
from crackjax.models.backbones import vgg


class FCN8s(nn.Module):
  """`[B, H, W, 3] float32` in [0, 1] -> `[B, H, W, 1] float32` logits."""
  batch_norm: bool = False
  fc_width: int = 4096
  output_prior: float = 0.01
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers.check_divisible(x, 32, "FCN-8s")
    size = x.shape[1:3]
    x = layers.normalize(x, vgg.MEAN, vgg.STD, self.dtype)
    f = vgg.VGG16(self.batch_norm, self.fc_width, dtype=self.dtype, name="backbone")(x, train)
    # The score layers start at zero, as in the reference ("we zero-initialize the class scoring
    # layer"; the skip scores likewise), so the untrained net predicts `output_prior` everywhere.
    zero = nn.initializers.zeros
    score = lambda name: nn.Conv(1, (1, 1), dtype=self.dtype, kernel_init=zero, name=name)
    y = layers.logit_head(self.output_prior, self.dtype, "score_fr", kernel_init=zero)(f["fc7"])
    y = layers.resize(y, f["pool4"].shape[1:3]) + score("score_pool4")(f["pool4"])
    y = layers.resize(y, f["pool3"].shape[1:3]) + score("score_pool3")(f["pool3"])
    return layers.resize(y, size).astype(jnp.float32)


@register("fcn")
def build(model_config) -> FCN8s:
  backbone = options.backbone(model_config, ("vgg16", "vgg16_bn"))
  options.no_side_outputs(model_config)
  return FCN8s(batch_norm=backbone == "vgg16_bn",
               fc_width=options.width(model_config, 4096, "fc6/fc7 channels"),
               output_prior=options.output_prior(model_config), dtype=options.dtype(model_config))

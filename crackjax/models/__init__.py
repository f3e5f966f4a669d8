"""Model registry keyed by `config.model.name`.

Each model family lives in its own module and registers a constructor `fn(model_config) -> nn.Module`.
Every model maps `[B, H, W, 3] float32` images in [0, 1] to `[B, H, W, 1] float32` logits and takes
`train: bool` (BatchNorm batch statistics vs running averages). Adding a model touches its own file and
the import list at the end.

Every model's final logit layer starts with bias `output_bias(config.model.output_prior)` = logit(prior)
(Lin et al. 2017, RetinaNet's prior init): the untrained network then predicts "crack" with probability
`prior` instead of 0.5, so training does not begin by flagging every pixel a crack, and the early
precision/recall that balanced learning reads are not noise.

Deep supervision (unetpp, deepcrack, pspnet's auxiliary head): with `train=True` such a model returns
`{"logits": [B, H, W, 1] fused/final logits, "side_logits": tuple of [B, H, W, 1], "side_weights":
tuple of floats}` (weights from `config.model.deep_supervision_weights`, () = the reference's); the
train step applies the method's loss to every output (crackjax/training/step.py `deeply_supervised_loss`).
With `train=False` every model returns the plain logits array, so inference uses the fused output.
The zoo and its references, parameter counts, FLOPs and step times: docs/models.md.
"""

from __future__ import annotations

import flax.linen as nn
import scipy.special

from crackjax import errors
from crackjax import registry

MODELS = registry.Registry("config.model.name")
register = MODELS.register


def get_model(model_config) -> nn.Module:
  """Builds the model named by `model_config.name` from the rest of `model_config`."""
  return MODELS.get(model_config.name)(model_config)


def output_bias(prior: float):
  """Bias initializer for the final crack logit: logit(prior), prior in (0, 1)."""
  if not 0.0 < prior < 1.0:
    raise errors.UserError(f"config.model.output_prior must lie in (0, 1), got {prior}.")
  return nn.initializers.constant(float(scipy.special.logit(prior)))


from crackjax.models import (  # noqa: E402,F401  (each family registers itself)
    deepcrack, deeplabv3plus, fcn, fpn, hrnet, pspnet, unet, unetpp)

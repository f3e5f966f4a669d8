"""Model registry keyed by `config.model.name`.

Each model family lives in its own module and registers a constructor `fn(model_config) -> nn.Module`.
Every model maps `[B, H, W, 3] float32` images in [0, 1] to `[B, H, W, 1] float32` logits and takes
`train: bool` (BatchNorm batch statistics vs running averages). Adding a model touches its own file and
the import list below.

Every model's final logit layer starts with bias `output_bias(config.model.output_prior)` = logit(prior)
(Lin et al. 2017, RetinaNet's prior init): the untrained network then predicts "crack" with probability
`prior` instead of 0.5, so training does not begin by flagging every pixel a crack, and the early
precision/recall that balanced learning reads are not noise.

Deep supervision (unetpp, deepcrack, pspnet's auxiliary head): with `train=True` such a model returns
`{"logits": [B, H, W, 1] fused/final logits, "side_logits": tuple of [B, H, W, 1], "side_weights":
tuple of floats}` (weights from `config.model.deep_supervision_weights`, () = the reference's); the
train step applies the method's loss to every output (crackjax/step.py `deeply_supervised_loss`).
With `train=False` every model returns the plain logits array, so inference uses the fused output.
The zoo and its references, parameter counts, FLOPs and step times: docs/models.md.
"""

from __future__ import annotations

import math
from typing import Callable

import flax.linen as nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
  def wrap(fn):
    if name in _REGISTRY:
      raise ValueError(f"model {name!r} is registered twice")
    _REGISTRY[name] = fn
    return fn
  return wrap


def get_model(model_config) -> nn.Module:
  """Builds the model named by `model_config.name` from the rest of `model_config`."""
  name = model_config.name
  if name not in _REGISTRY:
    raise ValueError(f"config.model.name={name!r} is unknown; choose one of {sorted(_REGISTRY)}.")
  return _REGISTRY[name](model_config)


def output_bias(prior: float):
  """Bias initializer for the final crack logit: logit(prior), prior in (0, 1)."""
  if not 0.0 < prior < 1.0:
    raise ValueError(f"config.model.output_prior must lie in (0, 1), got {prior}.")
  return nn.initializers.constant(math.log(prior) - math.log1p(-prior))


def names() -> list[str]:
  return sorted(_REGISTRY)


from crackjax.models import unet  # noqa: E402,F401  (registers)
from crackjax.models import (  # noqa: E402,F401  (register the model zoo)
    deepcrack, deeplabv3plus, fcn, fpn, hrnet, pspnet, unetpp)

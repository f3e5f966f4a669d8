"""Model registry keyed by `config.model.name`.

Each model family lives in its own module and registers a constructor `fn(model_config) -> nn.Module`.
Every model maps `[B, H, W, 3] float32` images in [0, 1] to `[B, H, W, 1] float32` logits and takes
`train: bool` (BatchNorm batch statistics vs running averages). Adding a model touches its own file and
the import list below.
"""

from __future__ import annotations

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


def names() -> list[str]:
  return sorted(_REGISTRY)


from crackjax.models import unet  # noqa: E402,F401  (registers)

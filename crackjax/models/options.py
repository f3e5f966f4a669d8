"""Reads the zoo's `config.model.*` keys with checks that name the key and the allowed values.

  model.backbone                 "" = the family's reference backbone; otherwise one the family lists
  model.width                    0 = the family's reference width; families without one reject others
  model.deep_supervision_weights () = the reference weights of the family's side outputs
  model.output_prior             initial crack probability of the final logit(s)
  model.dtype                    compute dtype ("float32" | "bfloat16"); parameters stay float32

Model configs built by hand (tests) may omit the keys; they then take the defaults.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from crackjax import errors


def dtype(model_config) -> jnp.dtype:
  name = model_config.get("dtype", "float32")
  if name not in ("float32", "bfloat16", "float16"):
    raise errors.UserError(f"config.model.dtype={name!r} is not supported; use 'float32' or 'bfloat16'.")
  return jnp.dtype(name)


def backbone(model_config, choices: Sequence[str]) -> str:
  """`model.backbone`, or `choices[0]` (the reference backbone) when it is ""."""
  name = model_config.get("backbone", "") or choices[0]
  if name not in choices:
    raise errors.UserError(f"config.model.backbone={name!r} is not available for model.name="
                           f"{model_config.name!r}; choose one of {list(choices)} (or '' for {choices[0]!r}).")
  return name


def no_backbone(model_config) -> None:
  name = model_config.get("backbone", "")
  if name:
    raise errors.UserError(f"model.name={model_config.name!r} has no interchangeable backbone; "
                           f"leave config.model.backbone='' (got {name!r}).")


def width(model_config, default: int | None, what: str = "") -> int:
  """`model.width`, or `default` when it is 0. `default=None`: the family has no width knob."""
  value = int(model_config.get("width", 0))
  if default is None:
    if value:
      hint = " (its width is config.model.base_channels)" if model_config.name == "unet" else ""
      raise errors.UserError(f"config.model.width={value} is not used by model.name={model_config.name!r}"
                             f"{hint}; leave it 0.")
    return 0
  if value < 0:
    raise errors.UserError(f"config.model.width={value} must be >= 0 (0: {what or 'the reference'} "
                           f"{default}).")
  return value or default


def side_weights(model_config, defaults: Sequence[float], what: str) -> tuple[float, ...]:
  """`model.deep_supervision_weights`, or the family's `defaults` when it is empty."""
  given = tuple(float(w) for w in (model_config.get("deep_supervision_weights", ()) or ()))
  if not given:
    return tuple(float(w) for w in defaults)
  if len(given) != len(defaults):
    raise errors.UserError(f"config.model.deep_supervision_weights={given} has {len(given)} entries but "
                           f"model.name={model_config.name!r} has {len(defaults)} side outputs ({what}); "
                           f"give {len(defaults)} weights, e.g. {tuple(defaults)}, or () for those defaults.")
  if any(w < 0 for w in given):
    raise errors.UserError(f"config.model.deep_supervision_weights={given} must be >= 0.")
  return given


def output_prior(model_config) -> float:
  """`model.output_prior`: the untrained network's crack probability (see crackjax/models/__init__.py)."""
  prior = float(model_config.get("output_prior", 0.01))
  if not 0.0 < prior < 1.0:
    raise errors.UserError(f"config.model.output_prior must lie in (0, 1), got {prior}.")
  return prior


def no_side_outputs(model_config) -> None:
  given = tuple(model_config.get("deep_supervision_weights", ()) or ())
  if given:
    raise errors.UserError(f"config.model.deep_supervision_weights={given} is set but model.name="
                           f"{model_config.name!r} has no side outputs; leave it ().")

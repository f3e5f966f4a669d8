"""A trained run restored for inference: its saved config, one checkpoint's state, the jitted predict.

Shared by `python -m crackjax.evaluate` and `python -m crackjax.predict`. The state is restored onto
the shapes of an abstract train state (`jax.eval_shape`, nothing is initialised), replicated over all
devices; `predict(state, images)` maps `[B, H, W, 3] uint8` (B a multiple of the device count,
sharded over the `data` axis) to `[B, H, W] float32` crack probabilities.
"""

from __future__ import annotations

import dataclasses
import logging as py_logging
import os
import sys
from typing import Any, Callable

import jax
from absl import flags
from absl import logging
from ml_collections import config_flags

from crackjax import checkpointing
from crackjax import config_base
from crackjax import losses
from crackjax import models
from crackjax import parallel
from crackjax import state as state_lib
from crackjax import step as step_lib


@dataclasses.dataclass
class Restored:
  config: Any
  state: state_lib.TrainState
  predict: Callable
  batch_sharding: jax.sharding.NamedSharding
  step: int
  selected_by: str   # "val/f1", "latest" (no val metrics) or "--checkpoint_step"


def apply_overrides(config, overrides: dict[str, Any] | None):
  """`config` (the run's saved config) with flat `{"eval.batch_size": 4, ...}` overrides applied.

  The architecture is fixed by the checkpoint, so `model.*` keys other than `model.dtype` are refused.
  """
  overrides = dict(overrides or {})
  fixed = sorted(k for k in overrides if k.startswith("model.") and k != "model.dtype")
  if fixed:
    saved = config_base._flatten(config.to_dict()).get(fixed[0])
    raise ValueError(f"--config.{fixed[0]} cannot be overridden at inference: the checkpoint fixes "
                     f"the architecture (saved config: {fixed[0]}={saved!r}). Only model.dtype may "
                     f"change.")
  if overrides:
    config = config.copy_and_resolve_references()
    config.unlock()
    config.update_from_flattened_dict(overrides)
    config.lock()
  return config


def restore(workdir: str, config=None, step: int | None = None) -> Restored:
  """Restores `step` of the run in `workdir` (default: the best by val/f1, else the latest)."""
  workdir = os.path.abspath(workdir)
  config = config_base.load(workdir) if config is None else config
  directory = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(directory):
    raise FileNotFoundError(
        f"{directory} does not exist; train first, e.g. "
        f"`python -m crackjax.main --config configs/smoke.py --workdir {workdir}`.")
  ckpt = checkpointing.Checkpointer(directory, config.keep_checkpoints, read_only=True)
  try:
    steps = sorted(ckpt.manager.all_steps())
    if not steps:
      raise FileNotFoundError(f"{directory} holds no finished checkpoint yet; wait for the run to save "
                              f"one (config.checkpoint_every) or pass another --workdir.")
    if step is None:
      step = ckpt.best_step()
      scored = any((ckpt.manager.metrics(s) or {}).get(checkpointing.BEST_METRIC) is not None
                   for s in steps)
      selected_by = checkpointing.BEST_METRIC if scored else "latest"
    elif step in steps:
      selected_by = "--checkpoint_step"
    else:
      raise ValueError(f"--checkpoint_step={step}: {directory} holds steps {steps}.")

    mesh = parallel.make_mesh()
    repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    model = models.get_model(config.model)
    tx = state_lib.make_optimizer(config.optimizer, config.total_steps)
    balance0 = losses.initial_balance(config.balance, 0.5, 0.01)  # values are restored; shapes matter
    abstract = jax.eval_shape(
        lambda: state_lib.create(model, tx, config.seed, config.data.patch_size, balance0, repl))
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=repl), abstract)
    state = ckpt.restore(step, abstract)
  finally:
    ckpt.close()
  return Restored(config=config, state=state, predict=step_lib.make_predict(repl, data),
                  batch_sharding=data, step=int(step), selected_by=selected_by)


# --------------------------------------------------------------------------- command-line helpers


def define_config_flag() -> flags.FlagHolder:
  """`--config.<key>=<value>` overrides of the run's saved config (every key of config_base.base()).

  Call from an entry point's `__main__` block only: absl flags are global, and importing two entry
  points must not define the flag twice. Read the overrides with `config_overrides(holder)`.
  """
  try:  # the overrides in sys.argv are matched against the keys here, at definition
    return config_flags.DEFINE_config_dict(
        "config", config_base.base(), "Overrides of the run's saved config, e.g. "
        "--config.eval.batch_size=4 (keys: crackjax/config_base.py).", lock_config=True)
  except (AttributeError, KeyError) as e:
    _exit_unknown_keys(sys.argv, e)


def config_overrides(holder: flags.FlagHolder) -> dict[str, Any]:
  """The `--config.<key>=<value>` pairs given on the command line, as a flat dict."""
  return dict(config_flags.get_override_values(flags.FLAGS[holder.name]))


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing that names an unknown `--config.<key>` instead of printing a traceback."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:
    _exit_unknown_keys(argv, e)
  except flags.Error as e:  # e.g. a value of the wrong type: the message names flag and value
    sys.exit(f"{e}\nPass --helpfull to list the flags.")


def _exit_unknown_keys(argv: list[str], error: Exception):
  known = set(config_base._flatten(config_base.base().to_dict()))
  given = [a[len("--config."):].split("=")[0] for a in argv if a.startswith("--config.")]
  unknown = [k for k in given if k not in known and not any(n.startswith(k + ".") for n in known)]
  sys.exit(f"Unknown config key(s) {unknown or [str(error)]} on the command line. Every key and its "
           f"default is listed in crackjax/config_base.py; check the spelling.")


# Libraries whose INFO lines drown the log (orbax logs every file it reads); as in crackjax/main.py.
_QUIET_LIBRARIES = ("/orbax/", "/grain/", "/tensorflow_datasets/", "/jax/_src/")


class _QuietLibraries(py_logging.Filter):

  def filter(self, record):
    return record.levelno >= py_logging.WARNING or not any(
        part in record.pathname for part in _QUIET_LIBRARIES)


def quiet_library_logs() -> None:
  logging.get_absl_handler().addFilter(_QuietLibraries())

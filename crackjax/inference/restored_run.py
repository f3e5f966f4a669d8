"""A trained run restored for inference: its saved config, one checkpoint's state, the jitted predict.

Shared by `python -m crackjax.evaluate` and `python -m crackjax.predict`. The state is restored onto
the shapes of an abstract train state (`jax.eval_shape`, nothing is initialised), replicated over all
devices; `predict(state, images)` maps `[B, H, W, 3] uint8` (B a multiple of the device count,
sharded over the `data` axis) to `[B, H, W] float32` crack probabilities.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any
from typing import Callable

import jax

from crackjax import config_base
from crackjax import errors
from crackjax import models
from crackjax.balance import methods
from crackjax.inference import model_folder
from crackjax.training import checkpoints
from crackjax.training import parallel
from crackjax.training import state as state_lib
from crackjax.training import step as step_lib


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
    saved = config_base.flatten(config.to_dict()).get(fixed[0])
    raise errors.UserError(f"--config.{fixed[0]} cannot be overridden at inference: the checkpoint fixes "
                           f"the architecture (saved config: {fixed[0]}={saved!r}). Only model.dtype may "
                           f"change.")
  if overrides:
    config = config.copy_and_resolve_references()
    config.unlock()
    config.update_from_flattened_dict(overrides)
    config.lock()
  return config


def restore(workdir: str, config=None, step: int | None = None) -> Restored:
  """Restores `step` of the run in `workdir` (default: the best by val/f1, else the latest).

  `workdir` may also be a model folder (crackjax/inference/model_folder.py: a shipped model's).
  """
  workdir = os.path.abspath(workdir)
  config = config_base.load(workdir) if config is None else config
  if model_folder.is_model_folder(workdir):   # a shipped or exported model, not a training workdir
    return model_folder.restore(workdir, config, step)
  directory = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(directory):
    raise errors.MissingFileError(
        f"{directory} does not exist; train first, e.g. "
        f"`python -m crackjax.main --config configs/smoke.py --workdir {workdir}`.")
  ckpt = checkpoints.Checkpointer(directory, config.keep_checkpoints, read_only=True)
  try:
    steps = sorted(ckpt.manager.all_steps())
    if not steps:
      raise errors.MissingFileError(f"{directory} holds no finished checkpoint yet; wait for the run to save "
                                    f"one (config.checkpoint_every) or pass another --workdir.")
    if step is None:
      step = ckpt.best_step()
      scored = any((ckpt.manager.metrics(s) or {}).get(checkpoints.BEST_METRIC) is not None
                   for s in steps)
      selected_by = checkpoints.BEST_METRIC if scored else "latest"
    elif step in steps:
      selected_by = "--checkpoint_step"
    else:
      raise errors.UserError(f"--checkpoint_step={step}: {directory} holds steps {steps}.")

    mesh = parallel.make_mesh()
    repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    model = models.get_model(config.model)
    tx = state_lib.make_optimizer(config.optimizer, config.total_steps)
    balance0 = methods.initial_balance(config.balance, 0.5, 0.01)  # values are restored; shapes matter
    abstract = jax.eval_shape(
        lambda: state_lib.create(model, tx, config.seed, config.data.patch_size, balance0, repl))
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=repl), abstract)
    state = ckpt.restore(step, abstract)
  finally:
    ckpt.close()
  return Restored(config=config, state=state, predict=step_lib.make_predict(repl, data),
                  batch_sharding=data, step=int(step), selected_by=selected_by)

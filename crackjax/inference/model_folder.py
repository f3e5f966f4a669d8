"""A trained model as a small folder, without a training workdir: what crackjax ships and exports.

    <folder>/config.json      the training run's resolved config (as in its workdir)
    <folder>/weights.msgpack  flax serialization of `{"params": ..., "batch_stats": ...}` (float32):
                              the inference variables of one checkpoint, no optimizer or balance state
    <folder>/card.json        where the weights come from: checkpoint step, how it was chosen, test
                              metrics, data and their licence terms (free-form, written by `write`)

Everything that reads a workdir for inference (`crackjax.predict`, `crackjax.evaluate`,
`crackjax.export`, `crackjax.load`) reads such a folder too: `restored_run.restore` hands it to
`restore` here. The folders shipped in the package live in crackjax/pretrained/.
"""

from __future__ import annotations

import json
import os
from typing import Any
from typing import Callable

import flax.serialization
import flax.struct
import jax
import numpy as np

from crackjax import config_base
from crackjax import errors
from crackjax import json_file
from crackjax import models
from crackjax.training import parallel
from crackjax.training import step as step_lib

WEIGHTS = "weights.msgpack"
CARD = "card.json"


class InferenceState(flax.struct.PyTreeNode):
  """The part of the train state that inference needs; `step.predict_probs` takes it as it takes a
  `TrainState` (`apply_fn`, `params`, `batch_stats`)."""
  apply_fn: Callable = flax.struct.field(pytree_node=False)
  params: Any
  batch_stats: Any


def is_model_folder(path: str) -> bool:
  return os.path.isfile(os.path.join(path, WEIGHTS)) and os.path.isfile(os.path.join(path, "config.json"))


def read_card(folder: str) -> dict:
  """`folder/card.json` (`{}` where there is none)."""
  path = os.path.join(folder, CARD)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def _abstract_variables(config) -> dict:
  """`{"params", "batch_stats"}` shapes of `config.model` (nothing is computed)."""
  model = models.get_model(config.model)
  size = config.eval.pad_multiple
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), np.zeros((1, size, size, 3), np.float32),
                                                train=False))
  return {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}


def restore(folder: str, config=None, step: int | None = None):
  """The model in `folder` as a `restored_run.Restored` (replicated over all devices).

  Args:
    folder: a model folder (`is_model_folder`).
    config: its config with inference overrides applied (default: `folder/config.json`).
    step: a checkpoint step the caller asks for; a folder holds one (card.json's `checkpoint_step`).
  """
  from crackjax.inference import restored_run  # noqa: PLC0415  (restored_run hands folders to us)
  folder = os.path.abspath(folder)
  config = config_base.load(folder) if config is None else config
  card = read_card(folder)
  saved_step = int(card.get("checkpoint_step", 0))
  if step is not None and step != saved_step:
    raise errors.UserError(f"--checkpoint_step={step}: the model folder {folder} holds only the weights "
                           f"of step {saved_step}; drop --checkpoint_step.")
  path = os.path.join(folder, WEIGHTS)
  target = _abstract_variables(config)
  target = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), target)
  with open(path, "rb") as f:
    try:
      variables = flax.serialization.from_bytes(target, f.read())
    except (ValueError, KeyError, TypeError) as e:
      raise errors.UserError(f"{path} does not hold weights of the model in {folder}/config.json "
                             f"({e}); write the folder again with crackjax.inference.model_folder.write"
                             ".") from e
  mesh = parallel.make_mesh()
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  model = models.get_model(config.model)
  state = jax.device_put(InferenceState(apply_fn=model.apply, params=variables["params"],
                                        batch_stats=variables["batch_stats"]), repl)
  return restored_run.Restored(config=config, state=state, predict=step_lib.make_predict(repl, data),
                               batch_sharding=data, step=saved_step,
                               selected_by=card.get("selected_by", "latest"))


def variables(restored) -> dict:
  """`{"params", "batch_stats"}` of a restored run or folder, as host numpy arrays."""
  return jax.device_get({"params": restored.state.params, "batch_stats": restored.state.batch_stats})


def write(workdir: str, folder: str, card: dict | None = None, step: int | None = None) -> dict:
  """Writes the model folder of the run in `workdir` (checkpoint `step`, default the best by val/f1).

  Returns the card written: `card` plus `checkpoint_step`, `selected_by`, `source_workdir` and
  `weights_bytes`.
  """
  from crackjax.inference import restored_run  # noqa: PLC0415
  restored = restored_run.restore(workdir, step=step)
  blob = flax.serialization.to_bytes(variables(restored))
  os.makedirs(folder, exist_ok=True)
  with errors.writing(os.path.join(folder, WEIGHTS)), open(os.path.join(folder, WEIGHTS), "wb") as f:
    f.write(blob)
  json_file.write(os.path.join(folder, "config.json"), json.loads(restored.config.to_json_best_effort()))
  full = {**(card or {}), "checkpoint_step": restored.step, "selected_by": restored.selected_by,
          "source_workdir": os.path.abspath(workdir), "weights_bytes": len(blob)}
  json_file.write(os.path.join(folder, CARD), full, sort_keys=False)
  return full

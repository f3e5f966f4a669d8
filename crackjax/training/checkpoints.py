"""Orbax checkpoints of the train state (balance state included) and the Grain iterator state.

Kept: the latest `keep_latest` checkpoints and the one with the best validation metric, so resuming
never goes back in time and the best model is never deleted (orbax's `best_fn` + `max_to_keep` alone
keeps the N *best* and may delete the latest).
"""

from __future__ import annotations

import json
import os
import pathlib

import grain
import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp


BEST_METRIC = "val/f1"


class Checkpointer:
  """`workdir/checkpoints/<step>/{state,data}`; all processes call every method (orbax requires it)."""

  def __init__(self, directory: str, keep_latest: int = 2, read_only: bool = False):
    policy = pp.AnyPreservationPolicy([
        pp.LatestN(n=keep_latest),
        pp.BestN(get_metric_fn=lambda m: m[BEST_METRIC], n=1, keep_checkpoints_without_metrics=False),
    ])
    self.directory = os.path.abspath(directory)
    self.manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(
            preservation_policy=policy, create=not read_only, read_only=read_only,
            # best_fn makes orbax write each checkpoint's metrics to disk (without it they live only
            # in memory and best_step() falls back to the latest after a restart or in evaluate).
            best_fn=lambda m: m[BEST_METRIC], best_mode="max"))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def best_step(self) -> int | None:
    """Step with the highest `val/f1` among kept checkpoints (the latest if none has one)."""
    scored = []
    for step in self.manager.all_steps():
      metrics = self.manager.metrics(step)
      if metrics and BEST_METRIC in metrics:
        scored.append((metrics[BEST_METRIC], step))
    return max(scored)[1] if scored else self.latest_step()

  def save(self, step: int, state, data_iterator=None, metrics: dict | None = None) -> None:
    items = {"state": ocp.args.StandardSave(state)}
    if data_iterator is not None:
      items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
    self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)

  def restore(self, step: int, abstract_state, data_iterator=None):
    """Restores the state (onto `abstract_state`'s shardings) and, if given, the iterator in place.

    Grain saves one iterator state per process (`data/process_<i>-of-<n>.json`). The training stream
    is the same in every process (crackjax/data/input_pipeline.py), so a run saved by n processes may resume
    on a different number: each process then takes the (identical) saved state.
    """
    items = {"state": ocp.args.StandardRestore(abstract_state)}
    saved = self._iterator_states(step) if data_iterator is not None else {}
    if data_iterator is not None and f"process_{jax.process_index()}-of-{jax.process_count()}" in saved:
      items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
      data_iterator = None
    state = self.manager.restore(step, args=ocp.args.Composite(**items))["state"]
    if data_iterator is not None:
      if len(set(saved.values())) != 1:
        raise ValueError(f"checkpoint {step} in {self.directory} holds {len(saved)} different data "
                         f"iterator states ({sorted(saved)}); resume it with the same number of "
                         f"processes that saved it.")
      data_iterator.set_state(json.loads(next(iter(saved.values()))))
      data_iterator.start_prefetch()  # as grain.checkpoint.CheckpointRestore does
    return state

  def _iterator_states(self, step: int) -> dict[str, str]:
    """`{"process_<i>-of-<n>": saved Grain iterator state (JSON text)}` of checkpoint `step`."""
    data_dir = os.path.join(self.directory, str(step), "data")
    return {path.stem: path.read_text() for path in sorted(pathlib.Path(data_dir).glob("process_*.json"))}

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()

"""Orbax checkpoints of the train state (balance state included) and the Grain iterator state.

Kept: the latest `keep_latest` checkpoints and the one with the best validation metric, so resuming
never goes back in time and the best model is never deleted (orbax's `best_fn` + `max_to_keep` alone
keeps the N *best* and may delete the latest).

Saves are asynchronous (orbax writes in background threads while training goes on). A failed save
(a full disk) surfaces at the next step through `raise_if_save_failed` (a flag read, no I/O, no device
sync), not only at the next save: orbax writes into `<step>.orbax-checkpoint-tmp` and deletes old
checkpoints only after the new one is complete, so the last finished checkpoint stays intact, and the
half-written folder is removed when the run is started again.
"""

from __future__ import annotations

import json
import os
import pathlib

import grain
import jax
import orbax.checkpoint as ocp
from absl import logging
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp

from crackjax import errors


BEST_METRIC = "val/f1"


class Checkpointer:
  """`workdir/checkpoints/<step>/{state,data}`; all processes call every method (orbax requires it)."""

  def __init__(self, directory: str, keep_latest: int = 2, read_only: bool = False):
    policy = pp.AnyPreservationPolicy([
        pp.LatestN(n=keep_latest),
        pp.BestN(get_metric_fn=lambda m: m[BEST_METRIC], n=1, keep_checkpoints_without_metrics=False),
    ])
    self.directory = os.path.abspath(directory)
    self._saving = None           # the step of a save that may still be running in the background
    self.manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(
            preservation_policy=policy, create=not read_only, read_only=read_only,
            cleanup_tmp_directories=not read_only,   # what a save cut short (full disk, kill) left
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
    """Starts saving `step` (waits for the previous save first); a full disk fails naming the folder."""
    items = {"state": ocp.args.StandardSave(state)}
    if data_iterator is not None:
      items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
    with errors.writing(self._step_dir(self._saving if self._saving is not None else step)):
      self.manager.wait_until_finished()       # the previous save's error names its own folder
    self._saving = step
    with errors.writing(self._step_dir(step)):
      self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)

  def raise_if_save_failed(self) -> None:
    """Raises the error of a background save that has finished and failed (DiskFullError naming its
    folder for a full disk); returns at once otherwise. No I/O and no device sync: call every step."""
    if self._saving is not None and not self.manager.is_saving_in_progress():
      self.wait()

  def _step_dir(self, step: int) -> str:
    return os.path.join(self.directory, str(step))

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
        raise errors.UserError(f"checkpoint {step} in {self.directory} holds {len(saved)} different data "
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
    """Waits for the background save, if any; raises its error (DiskFullError for a full disk)."""
    if self._saving is None:
      return
    with errors.writing(self._step_dir(self._saving)):
      self.manager.wait_until_finished()
    self._saving = None

  def finish_quietly(self) -> None:
    """For exit paths after an error: lets a running save finish (so the checkpoint it writes is
    complete, or its half-written folder is cleaned up at the next start) and logs, not raises, its
    own failure, which would hide the error that ends the run."""
    try:
      self.wait()
    except Exception as e:  # noqa: BLE001
      logging.warning("The checkpoint save of step %s did not finish: %s", self._saving,
                      str(e).splitlines()[0] if str(e) else type(e).__name__)
      self._saving = None

  def close(self) -> None:
    self.wait()
    self.manager.close()


def has_checkpoint(directory: str) -> bool:
  """Whether `directory` holds a finished checkpoint (a `<step>` folder); reads, creates nothing."""
  return os.path.isdir(directory) and any(name.isdigit() for name in os.listdir(directory))

"""A stop request (SIGTERM) ends training at a step boundary with a checkpoint of that step.

Preemptible TPU VMs and GPU clouds, Kubernetes (`kubectl delete`, node drain) and SLURM (`scancel`,
time limits with `--signal`) all send SIGTERM and wait a grace period before SIGKILL. Without this, the
run died at once and lost every step since its last periodic checkpoint.

  - One process: the handler only sets a flag; the host loop asks `requested(step)` after every step.
    A second SIGTERM kills at once (the handler restores the default action when it fires).
  - Several processes (`jax.distributed`): jax's coordination service already turns SIGTERM into a
    preemption notice and agrees on one step at which every process stops; orbax's
    `CheckpointManager.reached_preemption(step)` asks it. No Python handler is installed there, so the
    service's own one keeps working.

The loop then saves (every process takes part), waits for the save and raises `errors.Stopped`: the
entry point prints one line and exits with status 143 (128 + SIGTERM), as if the signal had ended the
process, so schedulers that requeue on a signal death still do. The same command resumes the run.
"""

from __future__ import annotations

import signal
import threading

import jax


class StopRequest:
  """Context manager: while entered, SIGTERM asks the training loop to stop (see the module doc)."""

  def __init__(self, checkpoint_manager):
    """`checkpoint_manager`: the run's orbax CheckpointManager (its `reached_preemption` is the
    multi-process stop rule)."""
    self._manager = checkpoint_manager
    self._received = threading.Event()
    self._previous = None

  def __enter__(self) -> "StopRequest":
    if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
    return self

  def __exit__(self, *exc) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
      self._previous = None

  def _on_sigterm(self, signum, frame) -> None:
    del frame
    self._received.set()
    signal.signal(signum, signal.SIG_DFL)      # a second SIGTERM ends the process at once

  def requested(self, step: int) -> bool:
    """Whether training stops after `step` (every process gets the same answer at the same step)."""
    if jax.process_count() == 1:
      return self._received.is_set()
    return bool(self._manager.reached_preemption(step))

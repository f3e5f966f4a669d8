"""A stop request (SIGTERM, or Ctrl-C) ends training at a step boundary with a checkpoint of that step.

Preemptible TPU VMs and GPU clouds, Kubernetes (`kubectl delete`, node drain) and SLURM (`scancel`,
time limits with `--signal`) all send SIGTERM and wait a grace period before SIGKILL. Without this, the
run died at once and lost every step since its last periodic checkpoint. A user's Ctrl-C (SIGINT) is
the same request from a terminal.

  - One process: the handler only sets a flag; the host loop asks `requested(step)` after every step.
    A second signal ends at once (the handler restores the default action when it fires: SIGTERM
    kills, a second Ctrl-C raises KeyboardInterrupt).
  - Several processes (`jax.distributed`): jax's coordination service already turns SIGTERM into a
    preemption notice and agrees on one step at which every process stops; orbax's
    `CheckpointManager.reached_preemption(step)` asks it. No Python handler is installed there, so the
    service's own one keeps working (and Ctrl-C keeps its default, KeyboardInterrupt).

The loop then saves (every process takes part), waits for the save and raises `errors.Stopped`: the
entry point prints one line and exits with status 143 (128 + SIGTERM) or 130 (128 + SIGINT), as if the
signal had ended the process, so schedulers that requeue on a signal death still do. The same command
resumes the run.
"""

from __future__ import annotations

import signal
import threading

import jax


class StopRequest:
  """Context manager: while entered, SIGTERM or SIGINT asks the training loop to stop (see the module doc)."""

  _SIGNALS = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}  # -> 2nd one's action

  def __init__(self, checkpoint_manager):
    """`checkpoint_manager`: the run's orbax CheckpointManager (its `reached_preemption` is the
    multi-process stop rule)."""
    self._manager = checkpoint_manager
    self._received = threading.Event()
    self._previous = {}
    self.signal = signal.SIGTERM     # the signal that asked (SIGTERM for a multi-process preemption)

  def __enter__(self) -> "StopRequest":
    if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
      for signum in self._SIGNALS:
        self._previous[signum] = signal.signal(signum, self._on_signal)
    return self

  def __exit__(self, *exc) -> None:
    for signum, previous in self._previous.items():
      signal.signal(signum, previous)
    self._previous = {}

  def _on_signal(self, signum, frame) -> None:
    del frame
    if not self._received.is_set():
      self.signal = signal.Signals(signum)
      self._received.set()
    signal.signal(signum, self._SIGNALS[signum])   # the same signal again ends the process at once

  def requested(self, step: int) -> bool:
    """Whether training stops after `step` (every process gets the same answer at the same step)."""
    if jax.process_count() == 1:
      return self._received.is_set()
    return bool(self._manager.reached_preemption(step))

  def describe(self) -> str:
    """What asked to stop, for the user: 'SIGTERM' or 'Ctrl-C (SIGINT)'."""
    return "Ctrl-C (SIGINT)" if self.signal == signal.SIGINT else "SIGTERM"

  def exit_code(self) -> int:
    """128 + the signal, as if it had ended the process: 143 (SIGTERM) or 130 (SIGINT)."""
    return 128 + int(self.signal)

"""Known library messages that tell a crackjax user nothing, and the one filter that drops them.

Each entry is a message a library logs on every run although nothing is wrong, with why it is noise:

- tensorflow-datasets "Using custom data configuration ...": every crackjax dataset is a builder
  config of our own (the synthetic generator's parameters, a manual copy's fingerprint).
- tensorflow-datasets "OpenCV is not installed ...": images are decoded with PIL on purpose (no
  OpenCV dependency); the speed of the input pipeline is measured with PIL (docs/data.md).
- tensorflow-datasets "Variant folder ... has no dataset_info.json": logged while a dataset is being
  prepared for the first time, before tfds writes that file itself.
- orbax "Requested `tracked_metric`; did not provide metrics.": checkpoints saved between validations
  carry no metric by design (the best one is chosen among the validated ones).
- orbax "Given directory is read only" / "... is read only, save will be skipped" /
  "CheckpointManagerOptions.read_only=True, setting save_interval_steps=0": evaluation, prediction
  and export open the checkpoints read-only on purpose (crackjax/inference/restored_run.py).

The filter sits on the `absl` logger (these libraries log through absl), so it also works where the
absl handler is not installed: in Grain's worker processes (`worker_init`, passed to `mp_prefetch`).
Everything else, warnings and errors included, passes. INFO lines of chatty libraries are dropped by
`cli.quiet_library_logs` (entry points only).
"""

from __future__ import annotations

import logging
import re

NOISE = (
    ("tensorflow_datasets", re.compile(r"Using custom data configuration")),
    ("tensorflow_datasets", re.compile(r"OpenCV is not installed")),
    ("tensorflow_datasets", re.compile(r"Variant folder .* has no dataset_info\.json")),
    ("orbax", re.compile(r"Requested `tracked_metric`; did not provide metrics")),
    ("orbax", re.compile(r"(Given directory is read only|is read only, (save|delete) will be skipped|"
                         r"read_only=True, setting save_interval_steps=0)")),
)


class NoiseFilter(logging.Filter):
  """Drops the records of `NOISE` (matched by the emitting module's path and the message)."""

  def filter(self, record: logging.LogRecord) -> bool:
    path = record.pathname.replace("\\", "/")
    message = record.getMessage()
    return not any(f"/{lib}/" in path and pattern.search(message) for lib, pattern in NOISE)


_FILTER = NoiseFilter()


def install() -> None:
  """Adds the filter to the `absl` logger (idempotent)."""
  logger = logging.getLogger("absl")
  if _FILTER not in logger.filters:
    logger.addFilter(_FILTER)


def worker_init(worker_index: int, worker_count: int) -> None:  # noqa: ARG001 (Grain's signature)
  """Grain `mp_prefetch(worker_init_fn=...)`: the same filter in each data worker process."""
  install()

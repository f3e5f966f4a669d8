"""Command-line plumbing shared by the entry points (`crackjax.main`, `crackjax.evaluate`, `crackjax.predict`).

absl flag parsing that names an unknown `--config.<key>` instead of printing a traceback, the
`--config` override flag of the evaluation/prediction tools, and a filter for noisy library logs.
"""

from __future__ import annotations

import logging as py_logging
import sys
from typing import Any

from absl import flags
from absl import logging
from ml_collections import config_flags

from crackjax import config_base
from crackjax import errors
from crackjax import library_noise


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
    exit_unknown_config_keys(sys.argv, e)


def config_overrides(holder: flags.FlagHolder) -> dict[str, Any]:
  """The `--config.<key>=<value>` pairs given on the command line, as a flat dict."""
  return dict(config_flags.get_override_values(flags.FLAGS[holder.name]))


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing that names an unknown `--config.<key>` (or a bad flag value) in one line, exit 2."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:
    exit_unknown_config_keys(argv, e)
  except flags.Error as e:  # e.g. a value of the wrong type: the message names flag and value
    errors.exit_with(f"{' '.join(str(e).split())} (pass --helpfull to list the flags)")


def exit_unknown_config_keys(argv: list[str], error: Exception):
  """Exits naming the `--config.<key>` overrides in `argv` that config_base.base() does not have."""
  known = set(config_base.flatten(config_base.base().to_dict()))
  given = [a[len("--config."):].split("=")[0] for a in argv if a.startswith("--config.")]
  unknown = [k for k in given if k not in known and not any(n.startswith(k + ".") for n in known)]
  errors.exit_with(f"unknown config key(s) {unknown or [str(error)]} on the command line. Every key and "
                   f"its default is listed in crackjax/config_base.py; check the spelling.")


# Libraries whose INFO lines drown the log (orbax logs every file it reads or writes).
_QUIET_LIBRARIES = ("/orbax/", "/grain/", "/tensorflow_datasets/", "/jax/_src/")


class _QuietLibraries(py_logging.Filter):

  def filter(self, record):
    if "/crackjax/" in record.pathname:
      return True
    if record.levelno < py_logging.WARNING:
      return not any(part in record.pathname for part in _QUIET_LIBRARIES)
    # A full disk, logged with its traceback by every orbax thread and asyncio task it stops (some at
    # exit): the entry point reports it in one line naming the path (crackjax/errors.py).
    error = record.exc_info[1] if record.exc_info else Exception(record.getMessage())
    return not errors.is_disk_full(error)


def quiet_library_logs() -> None:
  """Drops INFO lines of the libraries above from the absl log (warnings and errors stay, except a
  library's report of a full disk, which the entry point gives in one line), the known library noise
  (crackjax/library_noise.py) and tensorflow-datasets' progress bars."""
  logging.get_absl_handler().addFilter(_QuietLibraries())
  library_noise.install()
  import tensorflow_datasets as tfds  # noqa: PLC0415 (heavy; entry points import it anyway)
  tfds.disable_progress_bar()

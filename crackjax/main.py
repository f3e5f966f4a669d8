"""Entry point: `python -m crackjax.main --config configs/<name>.py --workdir DIR [--config.key=value ...]`."""

import logging as py_logging
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from crackjax import config_base
from crackjax import parallel
from crackjax import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a config file (configs/*.py).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")
flags.mark_flags_as_required(["config", "workdir"])

# Libraries whose INFO lines drown the training log (orbax logs every file it writes).
_QUIET_LIBRARIES = ("/orbax/", "/grain/", "/tensorflow_datasets/", "/jax/_src/")


class _QuietLibraries(py_logging.Filter):

  def filter(self, record):
    return record.levelno >= py_logging.WARNING or not any(
        part in record.pathname for part in _QUIET_LIBRARIES)


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing that names an unknown `--config.<key>` instead of printing a traceback."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:
    known = set(config_base._flatten(config_base.base().to_dict()))
    given = [a[len("--config."):].split("=")[0] for a in argv if a.startswith("--config.")]
    unknown = [k for k in given if k not in known and not any(n.startswith(k + ".") for n in known)]
    sys.exit(f"Unknown config key(s) {unknown or [str(e)]} on the command line. Every key and its "
             f"default is listed in crackjax/config_base.py; check the spelling.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  logging.get_absl_handler().addFilter(_QuietLibraries())
  parallel.maybe_initialize_distributed()
  logging.info("Config:\n%s", _CONFIG.value)
  train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)

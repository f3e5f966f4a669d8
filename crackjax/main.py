"""Entry point: `python -m crackjax.main --config configs/<name>.py --workdir DIR [--config.key=value ...]`."""

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from crackjax import cli
from crackjax import errors
from crackjax.training import parallel
from crackjax.training import progress_log
from crackjax.training import train


_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a config file (configs/*.py).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  cli.quiet_library_logs()
  parallel.maybe_initialize_distributed()
  lines = progress_log.config_lines(_CONFIG.value)
  logging.info("Config %s (in full in %s/config.json), the keys it changes from "
               "crackjax/config_base.py:%s", config_flags.get_config_filename(flags.FLAGS["config"]),
               _WORKDIR.value, "\n" + "\n".join(lines) if lines else " none")
  train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


def run():
  """`python -m crackjax.main` and the `crackjax-train` console script."""
  app.run(errors.run_main(main), flags_parser=cli.parse_flags)


if __name__ == "__main__":
  run()

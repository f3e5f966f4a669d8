r"""Crack maps and measurements for road images of any size, with a trained run.

    python -m crackjax.predict --workdir DIR --input FILE_OR_DIR --output OUT [--threshold T] \
        [--mm_per_pixel X] [--checkpoint_step N] [--tile_size 512] [--overlap 128] [--margin 32] \
        [--tile_batch 4] [--noquantify] [--config.key=value ...]

What it writes per image and in OUT/summary.csv: crackjax/inference/predict_folder.py; the sliding
window: crackjax/inference/sliding_window.py.
"""

from __future__ import annotations

import os

from absl import app
from absl import flags
from absl import logging

from crackjax import cli
from crackjax import errors
from crackjax.inference import predict_folder
from crackjax.inference import sliding_window


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  cli.quiet_library_logs()
  step = _CHECKPOINT_STEP.value
  try:
    reports = predict_folder.run(
        _WORKDIR.value, _INPUT.value, _OUTPUT.value, threshold=_THRESHOLD.value,
        mm_per_pixel=_MM_PER_PIXEL.value, checkpoint_step=None if step < 0 else step,
        settings=sliding_window.TileSettings(_TILE_SIZE.value, _OVERLAP.value, _MARGIN.value, _TILE_BATCH.value),
        measure=_QUANTIFY.value, overrides=cli.config_overrides(_CONFIG), progress_bar=_PROGRESS.value)
  except errors.SkippedInputsError as e:   # the readable images were predicted: their summary, then the error
    _log_summary(e.result)
    raise
  _log_summary(reports)


def _log_summary(reports: list[dict]) -> None:
  mp = sum(r["height"] * r["width"] for r in reports) / 1e6
  secs = sum(r["seconds"]["predict"] for r in reports)
  logging.info("%d image(s), %.1f megapixels, prediction %.1f s (%.3f megapixels/s); results in %s",
               len(reports), mp, secs, mp / max(secs, 1e-9), os.path.abspath(_OUTPUT.value))


if __name__ == "__main__":
  _WORKDIR = flags.DEFINE_string("workdir", None, "A crackjax training workdir (config.json, checkpoints/).")
  _INPUT = flags.DEFINE_string("input", None, "An image file, or a folder of images (not recursive).")
  _OUTPUT = flags.DEFINE_string("output", None, "Folder for the maps, JSON files and summary.csv.")
  _THRESHOLD = flags.DEFINE_float("threshold", None, "Crack iff p >= threshold; default: the run's "
                                  "config.eval.threshold.")
  _MM_PER_PIXEL = flags.DEFINE_float("mm_per_pixel", None, "Ground sampling distance; enables mm "
                                     "measurements and the JTG 5210-2018 severity.")
  _CHECKPOINT_STEP = flags.DEFINE_integer("checkpoint_step", -1, "Checkpoint step; -1: the best by val/f1.")
  _TILE_SIZE = flags.DEFINE_integer("tile_size", sliding_window.TileSettings.tile_size, "Tile size in pixels.")
  _OVERLAP = flags.DEFINE_integer("overlap", sliding_window.TileSettings.overlap, "Minimum overlap of neighbouring tiles.")
  _MARGIN = flags.DEFINE_integer("margin", sliding_window.TileSettings.margin, "Pixels at a tile edge shared with a "
                                 "neighbour that are discarded (<= overlap / 2).")
  _TILE_BATCH = flags.DEFINE_integer("tile_batch", sliding_window.TileSettings.tile_batch, "Tiles per model call "
                                     "(rounded up to a multiple of the device count).")
  _QUANTIFY = flags.DEFINE_boolean("quantify", True, "Measure the cracks (crackjax/measurement/).")
  _PROGRESS = flags.DEFINE_boolean("progress_bar", True, "Show a progress bar per image.")
  _CONFIG = cli.define_config_flag()
  flags.mark_flags_as_required(["workdir", "input", "output"])
  app.run(errors.run_main(main), flags_parser=cli.parse_flags)

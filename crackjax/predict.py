r"""Crack maps and measurements for road images of any size, with a trained run.

    python -m crackjax.predict --model NAME | --workdir DIR --input FILE_OR_DIR --output OUT \
        [--threshold T] [--mm_per_pixel X | --mm_per_pixel FILE.csv] [--checkpoint_step N] \
        [--tile_size 512] [--overlap 128] [--margin 32] [--tile_batch 4] [--noquantify] \
        [--config.key=value ...]
    python -m crackjax.predict --list_models

`--model` takes a model shipped in the package (crackjax/pretrained/), `--workdir` a training run or
a model folder. What it writes per image and in OUT/summary.csv and OUT/report.html:
crackjax/inference/predict_folder.py; the sliding window: crackjax/inference/sliding_window.py.
"""

from __future__ import annotations

import os

from absl import app
from absl import flags
from absl import logging

from crackjax import cli
from crackjax import errors
from crackjax import pretrained
from crackjax.inference import model_folder
from crackjax.inference import predict_folder
from crackjax.inference import sliding_window
from crackjax.measurement import scale


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _LIST_MODELS.value:
    for name in pretrained.names():
      card = model_folder.read_card(pretrained.folder(name))
      print(f"{name}\t{card.get('summary', '')}")
    return
  cli.quiet_library_logs()
  workdir = pretrained.model_or_workdir(_MODEL.value, _WORKDIR.value)
  if not _INPUT.value or not _OUTPUT.value:
    raise errors.UserError("give --input (an image or a folder of images) and --output (a folder).")
  step = _CHECKPOINT_STEP.value
  try:
    reports = predict_folder.run(
        workdir, _INPUT.value, _OUTPUT.value, threshold=_THRESHOLD.value,
        mm_per_pixel=scale.parse(_MM_PER_PIXEL.value), checkpoint_step=None if step < 0 else step,
        settings=sliding_window.TileSettings(_TILE_SIZE.value, _OVERLAP.value, _MARGIN.value, _TILE_BATCH.value),
        measure=_QUANTIFY.value, overrides=cli.config_overrides(_CONFIG), progress_bar=_PROGRESS.value)
  except errors.SkippedInputsError as e:   # the readable images were predicted: their summary, then the error
    _log_summary(e.result)
    raise
  _log_summary(reports)


def _log_summary(reports: list[dict]) -> None:
  mp = sum(r["height"] * r["width"] for r in reports) / 1e6
  secs = sum(r["seconds"]["predict"] for r in reports)
  logging.info("%d image(s), %.1f megapixels, prediction %.1f s (%.3f megapixels/s); results in %s (open "
               "report.html)", len(reports), mp, secs, mp / max(secs, 1e-9), os.path.abspath(_OUTPUT.value))


def run():
  """`python -m crackjax.predict` and the `crackjax-predict` console script."""
  global _MODEL, _LIST_MODELS, _WORKDIR, _INPUT, _OUTPUT, _THRESHOLD, _MM_PER_PIXEL  # noqa: PLW0603
  global _CHECKPOINT_STEP, _TILE_SIZE, _OVERLAP, _MARGIN, _TILE_BATCH, _QUANTIFY, _PROGRESS, _CONFIG  # noqa: PLW0603
  _MODEL = flags.DEFINE_string("model", None, "A model shipped in the package (--list_models names them).")
  _LIST_MODELS = flags.DEFINE_boolean("list_models", False, "Print the shipped models' names and exit.")
  _WORKDIR = flags.DEFINE_string("workdir", None, "A crackjax training workdir (config.json, checkpoints/) "
                                 "or a model folder.")
  _INPUT = flags.DEFINE_string("input", None, "An image file, or a folder of images (not recursive).")
  _OUTPUT = flags.DEFINE_string("output", None, "Folder for the maps, JSON files, summary.csv and report.html.")
  _THRESHOLD = flags.DEFINE_float("threshold", None, "Crack iff p >= threshold; default: the run's "
                                  "config.eval.threshold.")
  _MM_PER_PIXEL = flags.DEFINE_string("mm_per_pixel", None, "Ground sampling distance: one number, or a CSV "
                                      "with the header 'stem,mm_per_pixel' (one row per image); enables mm "
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
  app.run(errors.run_main(main), flags_parser=cli.parse_flags)


if __name__ == "__main__":
  run()

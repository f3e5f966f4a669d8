r"""Crack maps and measurements for road images of any size, with a trained run.

    python -m crackjax.predict --workdir DIR --input FILE_OR_DIR --output OUT [--threshold T] \
        [--mm_per_pixel X] [--checkpoint_step N] [--tile_size 512] [--overlap 128] [--margin 32] \
        [--tile_batch 4] [--noquantify] [--config.key=value ...]

Sliding-window inference: each image is cut into overlapping `tile_size` tiles (crackjax/tiling.py),
tiles go through the model in batches of `tile_batch` sharded over all devices, and their
probabilities are blended (raised-cosine cross-fade in the overlaps, tile edges within `margin` px of
a neighbour discarded) into one map at the input's size. The image is mirror-padded to a multiple of
config.eval.pad_multiple and tile origins are multiples of it too, so every tile sees the network's
pooling grid as the full-image evaluation does. Tiles are cut and stitched as they stream:
model memory is bounded by the tile batch, and the host holds the image, its 8-bit probability map
and binary mask, and about one row of tiles of float64 accumulators -- never a float map of the image.

Per input image `<stem>.<ext>` it writes to OUT:

    <stem>_prob.png     8-bit grey: round(255 * p), p the crack probability
    <stem>_mask.png     8-bit: 255 where p >= threshold, else 0
    <stem>_overlay.png  the image with crack pixels blended 60 % towards red
    <stem>.json         measurements (crackjax/quantify.py: length, widths, area, segments,
                        orientation; in mm and with our JTG 5210-2018 severity given --mm_per_pixel),
                        the settings used and timings
and OUT/summary.csv with one row per image. The threshold defaults to the run's config.eval.threshold.
Images: PNG/JPEG/BMP/TIFF/WebP, 8-bit grey/RGB/RGBA/palette (converted to RGB; EXIF orientation applied).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from typing import Callable

import jax
import numpy as np
import PIL.Image
import PIL.ImageOps
import tqdm
from absl import app
from absl import flags
from absl import logging
from jax.experimental import multihost_utils

from crackjax import cli
from crackjax import config_base
from crackjax import evaluation
from crackjax import inference
from crackjax import parallel
from crackjax import quantify
from crackjax import tiling

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
OVERLAY_COLOR = np.array([255, 0, 0], np.float32)
OVERLAY_ALPHA = 0.6
_SUFFIXES = ("_prob.png", "_mask.png", "_overlay.png", ".json")


@dataclasses.dataclass(frozen=True)
class TileSettings:
  """Sliding-window settings (pixels); see crackjax/tiling.py for the blend."""
  tile_size: int = 512
  overlap: int = 128
  margin: int = 32
  tile_batch: int = 4   # tiles per device batch (rounded up to a multiple of the device count)

  def check(self, multiple: int) -> None:
    if self.tile_size < multiple or self.tile_size % multiple:
      raise ValueError(f"--tile_size={self.tile_size} must be a positive multiple of "
                       f"config.eval.pad_multiple={multiple} (the model needs sizes divisible by it).")
    if not 0 <= 2 * self.margin <= self.overlap < self.tile_size:
      raise ValueError(f"need 0 <= 2 * --margin <= --overlap < --tile_size, got margin={self.margin}, "
                       f"overlap={self.overlap}, tile_size={self.tile_size}.")
    if self.tile_batch < 1:
      raise ValueError(f"--tile_batch={self.tile_batch} must be >= 1.")


# --------------------------------------------------------------------------- inputs and outputs


def list_inputs(path: str) -> list[str]:
  """The image files to process: `path` itself, or the images directly inside the folder `path`."""
  if os.path.isdir(path):
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")
                   and not f.endswith(_SUFFIXES[:3]))
    if not files:
      raise FileNotFoundError(f"--input={path} is a folder without images ({', '.join(IMAGE_EXTENSIONS)}).")
    return files
  if not os.path.exists(path):
    raise FileNotFoundError(f"--input={path} does not exist.")
  return [path]


def read_image(path: str) -> np.ndarray:
  """`[H, W, 3] uint8` RGB of an 8-bit image file (EXIF orientation applied)."""
  PIL.Image.MAX_IMAGE_PIXELS = None  # survey images are large and local; no decompression-bomb guard
  try:
    with PIL.Image.open(path) as im:
      if im.mode not in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
        raise ValueError(f"{path} has PIL mode {im.mode!r} (e.g. 16-bit or float); convert it to an "
                         f"8-bit RGB or grey image first.")
      PIL.ImageOps.exif_transpose(im, in_place=True)
      rgb = im if im.mode == "RGB" else im.convert("RGB")
      # Copied out in bands of rows: converting the whole image at once (np.asarray) would hold two
      # more full-size byte strings at its peak. The result is writeable (the overlay is drawn into it).
      w, h = rgb.size
      pixels = np.empty((h, w, 3), np.uint8)
      for y in range(0, h, 256):
        pixels[y:y + 256] = np.asarray(rgb.crop((0, y, w, min(y + 256, h))))
      return pixels
  except PIL.UnidentifiedImageError as e:
    raise ValueError(f"{path} is not an image PIL can read.") from e


def _stem(path: str) -> str:
  return os.path.splitext(os.path.basename(path))[0]


def _write_png(path: str, array: np.ndarray) -> None:
  PIL.Image.fromarray(array).save(path, format="PNG", compress_level=1)


def overlay(image: np.ndarray, mask: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
  """`image` `[H, W, 3] uint8` with `mask` pixels blended OVERLAY_ALPHA towards OVERLAY_COLOR
  (into `out`, which may be `image` itself)."""
  out = image.copy() if out is None else out
  if out is not image:
    out[...] = image
  px = out[mask].astype(np.float32)
  out[mask] = np.rint((1 - OVERLAY_ALPHA) * px + OVERLAY_ALPHA * OVERLAY_COLOR).astype(np.uint8)
  return out


# --------------------------------------------------------------------------- the sliding window


def image_grid(height: int, width: int, settings: TileSettings, multiple: int) -> tiling.TileGrid:
  """The tile grid of an image of `height x width`, mirror-padded to multiples of `multiple` (as the
  full-image evaluation pads): tiles of `settings.tile_size` (smaller along an axis where the padded
  image is smaller) at origins that are multiples of `multiple`."""
  tile_h, pad_h = tiling.padded_size(height, settings.tile_size, multiple)
  tile_w, pad_w = tiling.padded_size(width, settings.tile_size, multiple)
  return tiling.make_grid(pad_h, pad_w, tile_h, tile_w, overlap=settings.overlap,
                          margin=settings.margin, align=multiple)


def predict_image(predict_fn, state, batch_sharding, image: np.ndarray, *, threshold: float,
                  settings: TileSettings, multiple: int,
                  on_tiles: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Sliding-window prediction of one image.

  Args:
    predict_fn: `(state, [B, h, w, 3] uint8) -> [B, h, w] float32` probabilities (inference.Restored).
    image: `[H, W, 3] uint8`, any size.
    threshold: a pixel is crack iff its blended probability p >= threshold (compared in float64).
    multiple: tile sizes are multiples of this (config.eval.pad_multiple).
    on_tiles: called with the number of tiles done after each batch (progress).

  Returns:
    `([H, W] uint8 round(255 p), [H, W] bool p >= threshold)`.
  """
  h, w = image.shape[:2]
  grid = image_grid(h, w, settings, multiple)  # tiles() mirror-pads virtually to the grid's size
  tile_h, tile_w = grid.tile_h, grid.tile_w
  stitcher = tiling.Stitcher(grid)
  prob8 = np.empty((h, w), np.uint8)
  mask = np.empty((h, w), bool)
  t = np.float64(threshold)

  batch = evaluation.eval_batch_size(settings.tile_batch)
  local = batch // jax.process_count()
  lo = jax.process_index() * local

  def finish(start, stop, probs):
    probs = np.asarray(multihost_utils.process_allgather(probs, tiled=True)
                       if jax.process_count() > 1 else probs)
    for j, i in enumerate(range(start, stop)):
      for y0, band in stitcher.add(i, probs[j]):
        y1 = min(y0 + len(band), h)
        if y1 <= y0:
          continue
        band = band[:y1 - y0, :w]
        prob8[y0:y1] = np.rint(np.clip(band, 0.0, 1.0) * 255.0).astype(np.uint8)
        mask[y0:y1] = band >= t
    if on_tiles is not None:
      on_tiles(stop - start)

  pending = None
  for start, stop in tiling.iter_batches(len(grid), batch):
    # This process's slots [lo, lo + local) of the batch; slots past the last tile stay zero.
    tiles = np.zeros((local, tile_h, tile_w, 3), np.uint8)
    a, b = min(start + lo, stop), min(start + lo + local, stop)
    tiles[:b - a] = tiling.tiles(image, grid, a, b)
    probs = predict_fn(state, parallel.to_global({"x": tiles}, batch_sharding)["x"])
    if pending is not None:  # overlap the device's work on this batch with stitching the last one
      finish(*pending)
    pending = (start, stop, probs)
  finish(*pending)
  return prob8, mask


# --------------------------------------------------------------------------- per image, per folder


_SUMMARY_FIELDS = (
    "input", "height", "width", "threshold", "crack_pixels", "crack_fraction", "n_segments",
    "length_px", "mean_width_px", "max_width_px", "area_px", "orientation", "mm_per_pixel",
    "length_mm", "mean_width_mm", "max_width_mm", "area_m2", "jtg_dr_percent", "jtg_pci",
    "predict_s", "megapixels_per_s", "total_s")


def _summary_row(report: dict) -> dict:
  q = report.get("quantification") or {}
  jtg = q.get("jtg") or {}
  row = {k: report.get(k) for k in ("input", "height", "width", "threshold", "crack_pixels",
                                    "crack_fraction", "mm_per_pixel", "megapixels_per_s")}
  for k in ("n_segments", "length_px", "mean_width_px", "max_width_px", "area_px", "orientation",
            "length_mm", "mean_width_mm", "max_width_mm", "area_m2"):
    row[k] = q.get(k)
  row["jtg_dr_percent"], row["jtg_pci"] = jtg.get("dr_percent"), jtg.get("pci")
  row["predict_s"], row["total_s"] = report["seconds"]["predict"], report["seconds"]["total"]
  return {k: ("" if row[k] is None else row[k]) for k in _SUMMARY_FIELDS}


def run(workdir: str, input_path: str, output_dir: str, *, threshold: float | None = None,
        mm_per_pixel: float | None = None, checkpoint_step: int | None = None,
        settings: TileSettings = TileSettings(), measure: bool = True,
        overrides: dict | None = None, progress_bar: bool = True) -> list[dict]:
  """Predicts every image of `input_path` (a file or a folder) with the run in `workdir`; writes the
  files described in the module docstring to `output_dir` and returns the per-image reports."""
  workdir = os.path.abspath(workdir)
  config = inference.apply_overrides(config_base.load(workdir), overrides)
  threshold = config.eval.threshold if threshold is None else float(threshold)
  if not 0.0 <= threshold <= 1.0:
    raise ValueError(f"--threshold={threshold} must lie in [0, 1].")
  if mm_per_pixel is not None and not mm_per_pixel > 0:
    raise ValueError(f"--mm_per_pixel={mm_per_pixel} must be > 0.")
  settings.check(config.eval.pad_multiple)
  inputs = list_inputs(input_path)
  stems = [_stem(p) for p in inputs]
  dup = sorted({s for s in stems if stems.count(s) > 1})
  if dup:
    raise ValueError(f"several inputs share the name {dup[0]!r} (e.g. .jpg and .png); their outputs "
                     f"would overwrite each other. Move one of them to another folder.")
  output_dir = os.path.abspath(output_dir)
  if os.path.isdir(input_path) and os.path.abspath(input_path) == output_dir:
    raise ValueError(f"--output={output_dir} is the input folder; choose another folder.")
  restored = inference.restore(workdir, config, checkpoint_step)
  main = jax.process_index() == 0
  if main:
    os.makedirs(output_dir, exist_ok=True)
  logging.info("Predicting %d image(s) with checkpoint %d of %s (%s), threshold %g, tiles %d px "
               "(overlap %d, margin %d), %d tiles per batch on %d device(s).", len(inputs),
               restored.step, workdir, restored.selected_by, threshold, settings.tile_size,
               settings.overlap, settings.margin, evaluation.eval_batch_size(settings.tile_batch),
               jax.device_count())

  reports = []
  summary_path = os.path.join(output_dir, "summary.csv")
  summary = open(summary_path, "w", newline="") if main else None
  try:
    writer = csv.DictWriter(summary, fieldnames=_SUMMARY_FIELDS) if main else None
    if main:
      writer.writeheader()
    for n, path in enumerate(inputs, 1):
      report = _predict_one(restored, path, output_dir, threshold=threshold, mm_per_pixel=mm_per_pixel,
                            settings=settings, multiple=config.eval.pad_multiple, measure=measure and main,
                            progress=progress_bar and main, desc=f"[{n}/{len(inputs)}] {os.path.basename(path)}",
                            write=main)
      reports.append(report)
      if main:
        writer.writerow(_summary_row(report))
        summary.flush()
  finally:
    if summary is not None:
      summary.close()
  return reports


def _predict_one(restored, path, output_dir, *, threshold, mm_per_pixel, settings, multiple, measure,
                 progress, desc, write) -> dict:
  t0 = time.time()
  image = read_image(path)
  h, w = image.shape[:2]
  t_read = time.time() - t0

  bar = tqdm.tqdm(total=len(image_grid(h, w, settings, multiple)), unit="tile", desc=desc,
                  dynamic_ncols=True, disable=not progress)
  t1 = time.time()
  prob8, mask = predict_image(restored.predict, restored.state, restored.batch_sharding, image,
                              threshold=threshold, settings=settings, multiple=multiple,
                              on_tiles=bar.update)
  t_predict = time.time() - t1
  bar.close()

  t2 = time.time()
  q = quantify.quantify_cracks_dict(mask, mm_per_pixel) if measure else None
  t_quantify = time.time() - t2

  stem = _stem(path)
  names = {"probability": f"{stem}_prob.png", "mask": f"{stem}_mask.png",
           "overlay": f"{stem}_overlay.png"}
  t3 = time.time()
  if write:
    _write_png(os.path.join(output_dir, names["probability"]), prob8)
    del prob8
    _write_png(os.path.join(output_dir, names["mask"]), mask.astype(np.uint8) * 255)
    _write_png(os.path.join(output_dir, names["overlay"]), overlay(image, mask, out=image))
  t_write = time.time() - t3
  crack = int(np.count_nonzero(mask))
  report = {
      "input": os.path.abspath(path),
      "height": h, "width": w,
      "threshold": threshold,
      "mm_per_pixel": mm_per_pixel,
      "crack_pixels": crack,
      "crack_fraction": crack / float(h * w),
      "checkpoint_step": restored.step,
      "selected_by": restored.selected_by,
      "tiling": {**dataclasses.asdict(settings), "devices": jax.device_count(),
                 "tile_batch_used": evaluation.eval_batch_size(settings.tile_batch)},
      "outputs": names,
      "seconds": {"read": t_read, "predict": t_predict, "quantify": t_quantify, "write": t_write,
                  "total": time.time() - t0},
      "megapixels_per_s": h * w / 1e6 / max(t_predict, 1e-9),
      "quantification": q,
      "conventions": {
          "probability": "<stem>_prob.png: 8-bit grey, round(255 * p), p the blended crack probability",
          "mask": "<stem>_mask.png: 255 where p >= threshold (float64 comparison), else 0",
          "overlay": f"<stem>_overlay.png: crack pixels blended {OVERLAY_ALPHA:.0%} towards RGB "
                     f"{tuple(int(c) for c in OVERLAY_COLOR)}",
          "crack_pixels": "pixels with p >= threshold",
          "megapixels_per_s": "H * W / 1e6 / seconds.predict (tiling, model and stitching; no I/O)",
          "quantification": "crackjax/quantify.py on the binary mask; its own `conventions` inside",
      },
  }
  if write:
    with open(os.path.join(output_dir, f"{stem}.json"), "w") as f:
      json.dump(report, f, indent=2, allow_nan=False)
  return report


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  cli.quiet_library_logs()
  step = _CHECKPOINT_STEP.value
  reports = run(_WORKDIR.value, _INPUT.value, _OUTPUT.value, threshold=_THRESHOLD.value,
                mm_per_pixel=_MM_PER_PIXEL.value, checkpoint_step=None if step < 0 else step,
                settings=TileSettings(_TILE_SIZE.value, _OVERLAP.value, _MARGIN.value, _TILE_BATCH.value),
                measure=_QUANTIFY.value, overrides=cli.config_overrides(_CONFIG),
                progress_bar=_PROGRESS.value)
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
  _TILE_SIZE = flags.DEFINE_integer("tile_size", TileSettings.tile_size, "Tile size in pixels.")
  _OVERLAP = flags.DEFINE_integer("overlap", TileSettings.overlap, "Minimum overlap of neighbouring tiles.")
  _MARGIN = flags.DEFINE_integer("margin", TileSettings.margin, "Pixels at a tile edge shared with a "
                                 "neighbour that are discarded (<= overlap / 2).")
  _TILE_BATCH = flags.DEFINE_integer("tile_batch", TileSettings.tile_batch, "Tiles per model call "
                                     "(rounded up to a multiple of the device count).")
  _QUANTIFY = flags.DEFINE_boolean("quantify", True, "Measure the cracks (crackjax/quantify.py).")
  _PROGRESS = flags.DEFINE_boolean("progress_bar", True, "Show a progress bar per image.")
  _CONFIG = cli.define_config_flag()
  flags.mark_flags_as_required(["workdir", "input", "output"])
  app.run(main, flags_parser=cli.parse_flags)

"""Crack maps and measurements for road images of any size, with a trained run.

    python -m crackjax.predict --workdir DIR --input FILE_OR_DIR --output OUT [--threshold T] \
        [--mm_per_pixel X] [--checkpoint_step N] [--tile_size 512] [--overlap 128] [--margin 32] \
        [--tile_batch 4] [--noquantify] [--config.key=value ...]

Sliding-window inference: each image is cut into overlapping `tile_size` tiles (crackjax/inference/tile_grid.py),
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
    <stem>_overlay_small.jpg  that overlay downscaled to at most 1024 px (the report's thumbnails)
    <stem>.json         measurements (crackjax/measurement/: length, widths, area, segments,
                        orientation; in mm and with our JTG 5210-2018 severity given --mm_per_pixel),
                        the settings used and timings
and OUT/summary.csv with one row per image, and OUT/report.html (crackjax/report/html_report.py): a table of
the images with thumbnails, crack length/width/severity and links to the full overlays. The threshold
defaults to the run's config.eval.threshold. `--mm_per_pixel` is one number or a per-image CSV
(crackjax/measurement/scale.py).
Images: PNG/JPEG/BMP/TIFF/WebP, 8-bit grey/RGB/RGBA/palette (converted to RGB; EXIF orientation applied).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time

import jax
import numpy as np
import tqdm
from absl import logging

from crackjax import config_base
from crackjax import config_check
from crackjax import errors
from crackjax import json_file
from crackjax import measurement
from crackjax.data import pair_check
from crackjax.evaluation import full_images
from crackjax.inference import image_files
from crackjax.inference import restored_run
from crackjax.inference import sliding_window
from crackjax.measurement import scale
from crackjax.report import html_report


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
        settings: sliding_window.TileSettings = sliding_window.TileSettings(), measure: bool = True,
        overrides: dict | None = None, progress_bar: bool = True) -> list[dict]:
  """Predicts every image of `input_path` (a file or a folder) with the run in `workdir`; writes the
  files described in the module docstring to `output_dir` and returns the per-image reports.

  An unreadable image is named in the log when it is met and skipped; after all the others are done,
  `errors.SkippedInputsError` lists the skipped files (its `result`: the reports of the good ones).
  """
  workdir = os.path.abspath(workdir)
  config = restored_run.apply_overrides(config_base.load(workdir), overrides)
  config_check.validate(config, training=False)
  threshold = config.eval.threshold if threshold is None else float(threshold)
  if not 0.0 <= threshold <= 1.0:
    raise errors.UserError(f"--threshold={threshold} must lie in [0, 1].")
  mm_per_pixel = scale.parse(mm_per_pixel)   # one number, or {stem: number} from a CSV
  settings.check(config.eval.pad_multiple)
  inputs = image_files.list_inputs(input_path)
  stems = [pair_check.file_stem(p) for p in inputs]
  dup = sorted({s for s in stems if stems.count(s) > 1})
  if dup:
    raise errors.UserError(f"several inputs share the name {dup[0]!r} (e.g. .jpg and .png); their outputs "
                           f"would overwrite each other. Move one of them to another folder.")
  output_dir = os.path.abspath(output_dir)
  if os.path.isdir(input_path) and os.path.abspath(input_path) == output_dir:
    raise errors.UserError(f"--output={output_dir} is the input folder; choose another folder.")
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise errors.UserError(f"--output={output_dir} is a file, not a folder; choose a folder.")
  unscaled = [s for s in stems if isinstance(mm_per_pixel, dict) and s not in mm_per_pixel]
  if unscaled:
    logging.warning("%d image(s) have no row in the --mm_per_pixel CSV and are measured in pixels "
                    "only: %s", len(unscaled), ", ".join(unscaled))
  restored = restored_run.restore(workdir, config, checkpoint_step)
  main = jax.process_index() == 0
  if main:
    with errors.writing(output_dir):
      os.makedirs(output_dir, exist_ok=True)
  logging.info("Predicting %d image(s) with checkpoint %d of %s (%s), threshold %g, tiles %d px "
               "(overlap %d, margin %d), %d tiles per batch on %d device(s).", len(inputs),
               restored.step, workdir, restored.selected_by, threshold, settings.tile_size,
               settings.overlap, settings.margin, full_images.eval_batch_size(settings.tile_batch),
               jax.device_count())

  reports, bad = [], []
  summary_path = os.path.join(output_dir, "summary.csv")
  with errors.writing(summary_path):
    summary = open(summary_path, "w", newline="") if main else None
  try:
    writer = csv.DictWriter(summary, fieldnames=_SUMMARY_FIELDS) if main else None
    if main:
      with errors.writing(summary_path):
        writer.writeheader()
    for n, path in enumerate(inputs, 1):
      try:
        report = _predict_one(restored, path, output_dir, threshold=threshold,
                              mm_per_pixel=scale.for_image(mm_per_pixel, pair_check.file_stem(path)),
                              settings=settings, multiple=config.eval.pad_multiple,
                              measure=measure and main, progress=progress_bar and main,
                              desc=f"[{n}/{len(inputs)}] {os.path.basename(path)}", write=main)
      except image_files.UnreadableImageError as e:     # named now, listed at the end; the rest goes on
        logging.error("Skipping %s: %s", path, e)
        bad.append(path)
        continue
      reports.append(report)
      if main:
        with errors.writing(summary_path):
          writer.writerow(_summary_row(report))
          summary.flush()
  finally:
    if summary is not None:
      with errors.writing(summary_path):
        summary.close()
  if main and reports:
    html_report.write_predict_report(output_dir, reports)
  if bad:
    raise errors.SkippedInputsError(
        f"{len(bad)} of {len(inputs)} input image(s) could not be read and were skipped: "
        f"{', '.join(bad)}; the other {len(reports)} were predicted into {output_dir}.", reports)
  return reports


def _predict_one(restored, path, output_dir, *, threshold, mm_per_pixel, settings, multiple, measure,
                 progress, desc, write) -> dict:
  t0 = time.time()
  image = image_files.read_image(path)
  h, w = image.shape[:2]
  t_read = time.time() - t0

  bar = tqdm.tqdm(total=len(sliding_window.image_grid(h, w, settings, multiple)), unit="tile", desc=desc,
                  dynamic_ncols=True, disable=not progress)
  t1 = time.time()
  prob8, mask = sliding_window.predict_image(restored.predict, restored.state, restored.batch_sharding, image,
                              threshold=threshold, settings=settings, multiple=multiple,
                              on_tiles=bar.update)
  t_predict = time.time() - t1
  bar.close()

  t2 = time.time()
  q = measurement.quantify_cracks_dict(mask, mm_per_pixel) if measure else None
  t_quantify = time.time() - t2

  stem = pair_check.file_stem(path)
  names = {"probability": f"{stem}_prob.png", "mask": f"{stem}_mask.png",
           "overlay": f"{stem}_overlay.png", "overlay_small": f"{stem}_overlay_small.jpg"}
  t3 = time.time()
  if write:
    image_files.write_png(os.path.join(output_dir, names["probability"]), prob8)
    del prob8
    image_files.write_png(os.path.join(output_dir, names["mask"]), mask.astype(np.uint8) * 255)
    image_files.write_png(os.path.join(output_dir, names["overlay"]), image_files.overlay(image, mask, out=image))
    image_files.write_small_jpeg(os.path.join(output_dir, names["overlay_small"]), image)
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
                 "tile_batch_used": full_images.eval_batch_size(settings.tile_batch)},
      "outputs": names,
      "seconds": {"read": t_read, "predict": t_predict, "quantify": t_quantify, "write": t_write,
                  "total": time.time() - t0},
      "megapixels_per_s": h * w / 1e6 / max(t_predict, 1e-9),
      "quantification": q,
      "conventions": {
          "probability": "<stem>_prob.png: 8-bit grey, round(255 * p), p the blended crack probability",
          "mask": "<stem>_mask.png: 255 where p >= threshold (float64 comparison), else 0",
          "overlay": f"<stem>_overlay.png: crack pixels blended {image_files.OVERLAY_ALPHA:.0%} towards RGB "
                     f"{tuple(int(c) for c in image_files.OVERLAY_COLOR)}",
          "crack_pixels": "pixels with p >= threshold",
          "megapixels_per_s": "H * W / 1e6 / seconds.predict (tiling, model and stitching; no I/O)",
          "quantification": "crackjax/measurement/ on the binary mask; its own `conventions` inside",
      },
  }
  if write:
    json_file.write(os.path.join(output_dir, f"{stem}.json"), report, sort_keys=False)
  return report

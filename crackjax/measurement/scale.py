"""Millimetres per pixel for a set of images: one number for all, or a per-image CSV (`--mm_per_pixel`).

The CSV has the header `stem,mm_per_pixel` and one row per image, `stem` being the file name without
folder and extension (`IMG_0042` for `IMG_0042.jpg`), e.g. from a survey vehicle's camera height log:

    stem,mm_per_pixel
    IMG_0042,0.48
    IMG_0043,0.51

An image without a row is measured in pixels only (no mm values, no severity), and the log says so.
"""

from __future__ import annotations

import csv
import math
import os

from crackjax import errors

class ScaleError(errors.UserError, ValueError):
  """A bad `--mm_per_pixel` value or CSV (a user error; also a ValueError, as bad arguments are)."""


# What `parse` returns: None (pixels only), one number, or {stem: number}.
Scale = None | float | dict


def _positive(value: str, where: str) -> float:
  try:
    x = float(value)
  except ValueError:
    x = math.nan
  if not (math.isfinite(x) and x > 0):
    raise ScaleError(f"{where}: mm_per_pixel {value!r} is not a positive number; fix it.")
  return x


def parse(value: str | float | None) -> Scale:
  """`--mm_per_pixel`: empty/None -> None, a number -> float, a path to a CSV (or a dict) -> `{stem: mm
  per pixel}`; anything else fails naming the value."""
  if value is None or (isinstance(value, str) and not value.strip()):
    return None
  if isinstance(value, dict):
    return {str(k): _positive(str(v), f"mm_per_pixel of {k!r}") for k, v in value.items()}
  if isinstance(value, (int, float)):
    return _positive(str(value), "--mm_per_pixel")
  value = value.strip()
  if not value.lower().endswith(".csv") and not os.path.exists(value):
    return _positive(value, "--mm_per_pixel")
  return read_csv(value)


def read_csv(path: str) -> dict[str, float]:
  """`{stem: mm_per_pixel}` of a CSV with the header `stem,mm_per_pixel` (module docstring)."""
  try:
    with open(path, newline="") as f:
      rows = list(csv.reader(f))
  except OSError as e:
    raise ScaleError(f"--mm_per_pixel={path}: cannot read the CSV ({e.strerror}); give a "
                           f"number or the path of a CSV with the header 'stem,mm_per_pixel'.") from e
  if not rows or [c.strip() for c in rows[0]] != ["stem", "mm_per_pixel"]:
    found = ",".join(rows[0]) if rows else "an empty file"
    raise ScaleError(f"{path}: the first line must be the header 'stem,mm_per_pixel', found "
                           f"{found!r}.")
  out = {}
  for n, row in enumerate(rows[1:], start=2):
    if not row or all(not c.strip() for c in row):
      continue
    if len(row) != 2:
      raise ScaleError(f"{path} line {n}: expected 'stem,mm_per_pixel', found {','.join(row)!r}.")
    stem = row[0].strip()
    if stem in out:
      raise ScaleError(f"{path} line {n}: the stem {stem!r} is listed twice; keep one row.")
    out[stem] = _positive(row[1].strip(), f"{path} line {n}")
  return out


def for_image(scale: Scale, stem: str) -> float | None:
  """The mm per pixel of the image `stem` (None: not given, measure in pixels)."""
  if isinstance(scale, dict):
    return scale.get(stem)
  return scale

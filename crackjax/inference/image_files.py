"""Image files in and out of prediction: listing a folder, reading any 8-bit image as `[H, W, 3] uint8`
RGB, writing PNGs, and the crack overlay.
"""

from __future__ import annotations

import os

import numpy as np
import PIL.Image
import PIL.ImageOps

from crackjax import errors
from crackjax.data import pair_check


IMAGE_EXTENSIONS = pair_check.IMAGE_EXTENSIONS


OVERLAY_COLOR = np.array([255, 0, 0], np.float32)


OVERLAY_ALPHA = 0.6


_SUFFIXES = ("_prob.png", "_mask.png", "_overlay.png", "_overlay_small.jpg", ".json")


def list_inputs(path: str) -> list[str]:
  """The image files to process: `path` itself, or the images directly inside the folder `path`."""
  if os.path.isdir(path):
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")
                   and not f.endswith(_SUFFIXES[:4]))
    if not files:
      raise errors.MissingFileError(f"--input={path} is a folder without images "
                                    f"({', '.join(IMAGE_EXTENSIONS)}).")
    return files
  if not os.path.exists(path):
    raise errors.MissingFileError(f"--input={path} does not exist.")
  return [path]


class UnreadableImageError(errors.UserError):
  """An input image that cannot be read (not an image, truncated, corrupt, unsupported mode)."""


def read_image(path: str) -> np.ndarray:
  """`[H, W, 3] uint8` RGB of an 8-bit image file (EXIF orientation applied).

  Raises UnreadableImageError naming the file when it is not an image, is truncated or corrupt, or is
  not 8-bit.
  """
  PIL.Image.MAX_IMAGE_PIXELS = None  # survey images are large and local; no decompression-bomb guard
  try:
    with PIL.Image.open(path) as im:
      if im.mode not in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
        raise UnreadableImageError(f"{path} has PIL mode {im.mode!r} (e.g. 16-bit or float); convert it "
                                   f"to an 8-bit RGB or grey image first.")
      PIL.ImageOps.exif_transpose(im, in_place=True)
      rgb = im if im.mode == "RGB" else im.convert("RGB")
      # Copied out in bands of rows: converting the whole image at once (np.asarray) would hold two
      # more full-size byte strings at its peak. The result is writeable (the overlay is drawn into it).
      w, h = rgb.size
      pixels = np.empty((h, w, 3), np.uint8)
      for y in range(0, h, 256):
        pixels[y:y + 256] = np.asarray(rgb.crop((0, y, w, min(y + 256, h))))
      return pixels
  except UnreadableImageError:
    raise
  except PIL.UnidentifiedImageError as e:
    raise UnreadableImageError(f"{path} is not an image PIL can read.") from e
  except (OSError, SyntaxError, ValueError) as e:   # truncated or corrupt data, a vanished file
    raise UnreadableImageError(f"{path} is truncated or corrupt ({e}).") from e


def write_png(path: str, array: np.ndarray) -> None:
  """Writes `array` as a PNG (a full disk fails naming `path`)."""
  with errors.writing(path):
    PIL.Image.fromarray(array).save(path, format="PNG", compress_level=1)


SMALL_SIDE = 1024   # px, the longer side of `write_small_jpeg`'s copy


def write_small_jpeg(path: str, array: np.ndarray, max_side: int = SMALL_SIDE, quality: int = 85) -> None:
  """`array` `[H, W, 3] uint8` as a JPEG downscaled (area average) to at most `max_side` px per side."""
  im = PIL.Image.fromarray(array)
  im.thumbnail((max_side, max_side), PIL.Image.Resampling.BOX)
  im.save(path, format="JPEG", quality=quality)


def overlay(image: np.ndarray, mask: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
  """`image` `[H, W, 3] uint8` with `mask` pixels blended OVERLAY_ALPHA towards OVERLAY_COLOR
  (into `out`, which may be `image` itself)."""
  out = image.copy() if out is None else out
  if out is not image:
    out[...] = image
  px = out[mask].astype(np.float32)
  out[mask] = np.rint((1 - OVERLAY_ALPHA) * px + OVERLAY_ALPHA * OVERLAY_COLOR).astype(np.uint8)
  return out

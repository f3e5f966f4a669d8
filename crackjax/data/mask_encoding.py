"""Crack masks in any common encoding -> `[H, W] uint8` in {0, 1} (1 = crack), by one documented rule.

The rule (applied to every mask file of every dataset; `normalise` raises `MaskEncodingError` naming what
it found when a mask fits none of the cases, so a mask is never guessed into a wrong label):

1. Decoding (PIL). Palette masks ('P') are replaced by their palette colours. A mask with an alpha channel
   that is not fully opaque is composited on black (colour x alpha / full scale), so transparent pixels
   are background. Bilevel masks ('1') are 0/1. 16-bit, 32-bit and float greys keep their depth.
2. A colour mask whose three channels are equal at every pixel is a grey mask.
3. Grey masks:
   a. values all in {0, 1}: 1 is crack (the 0/1 encoding);
   b. exactly two values {0, v}: v is crack (0/255, label-index masks such as 0/38, ...);
   c. more values (anti-aliased or JPEG-compressed masks): crack where the value is at least half the full
      scale: >= 128 for 8-bit masks, >= 32768 for 16-bit, >= 0.5 for float masks in [0, 1]. The mask must
      reach the upper half of the scale (a mask whose maximum is below it, e.g. class labels {0, 1, 2},
      is an error), and the values between the background (the smallest value, usually 0) and half the
      scale must be the soft edge of the cracks: every such pixel within FRINGE_PX (16) px of a crack
      pixel (anti-aliasing, or JPEG ringing inside the 8x8 / 16x16 blocks a crack crosses). Such values
      farther from every crack are labels of their own (e.g. {0, 1, 2, 128}: three classes) and an error
      (`AmbiguousMaskError`) that names the values, unless config.data.ambiguous_masks=threshold accepts
      the half-scale cut for these masks and logs each one;
   d. one value: 0 everywhere is an empty mask; any other single value is an error (all crack, or an
      inverted empty mask?).
4. Colour masks (channels differ): the background is black; the crack colour C is the most frequent
   non-black colour; every pixel must lie on the line from black to C (within 32 of 255 per channel: anti-
   aliased or JPEG-compressed edges), and is crack when it lies at least halfway to C. A colour off that
   line (a second class colour, a white background) is an error that names it.
5. A mask in which more than half of the pixels are crack is an error (an inverted mask: cracks drawn
   dark on a light background?).

Crack datasets draw cracks light on black (CFD PNG exports, DeepCrack, CRACK500, the shared copies), which
is what rules 3-5 assume. CFD's original `.mat` ground truth (labels 1 = background, 2 = crack) has its own
reader, `read_cfd_mat`.
"""

from __future__ import annotations

import io
import os

import numpy as np
import PIL.Image
import scipy.ndimage
from absl import logging

from crackjax import errors

COLOUR_TOLERANCE = 32      # per channel, on the 0..255 scale
MAX_CRACK_FRACTION = 0.5
FRINGE_PX = 16             # rule 3c: how far (Chebyshev, px) a soft edge may reach from its crack
AMBIGUOUS_CHOICES = ("error", "threshold")   # config.data.ambiguous_masks


class MaskEncodingError(ValueError):
  """A mask whose values cannot be read as crack/background under the module's rule."""


class AmbiguousMaskError(MaskEncodingError):
  """Rule 3c's low values are not a soft edge; `thresholded` is the mask cut at half the scale."""

  def __init__(self, message: str, thresholded: np.ndarray):
    super().__init__(message)
    self.thresholded = thresholded


def check_ambiguous_option(value: str) -> None:
  """`config.data.ambiguous_masks` must be one of AMBIGUOUS_CHOICES."""
  if value not in AMBIGUOUS_CHOICES:
    raise errors.UserError(f"config.data.ambiguous_masks={value!r}: choose one of {list(AMBIGUOUS_CHOICES)}.")


def _values_text(values, limit: int = 6) -> str:
  values = [v.item() if hasattr(v, "item") else v for v in values]
  more = f", ... ({len(values)} values in all)" if len(values) > limit else ""
  return "{" + ", ".join(str(v) for v in values[:limit]) + more + "}"


def _full_scale(array: np.ndarray) -> float:
  if array.dtype == np.uint8:
    return 255.0
  if array.dtype == np.uint16:
    return 65535.0
  if np.issubdtype(array.dtype, np.floating):
    return 1.0
  top = int(array.max())  # 32-bit integer greys ('I'): infer 8- or 16-bit content
  return 255.0 if top <= 255 else 65535.0


def _grey(array: np.ndarray) -> np.ndarray:
  """`[H, W]` grey values (any dtype) -> `[H, W] uint8` {0, 1}, rules 3a-3d."""
  if array.dtype == bool:
    return array.astype(np.uint8)
  if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
    raise MaskEncodingError("mask holds NaN or infinite values")
  if array.dtype in (np.uint8, np.uint16):
    counts = np.bincount(array.ravel(), minlength=2)
    values = np.flatnonzero(counts)
  else:
    values = np.unique(array)
    if values.size and values.min() < 0:
      raise MaskEncodingError(f"mask holds negative values {_values_text(values)}")
  if values.size == 1:
    if values[0] == 0:
      return np.zeros(array.shape, np.uint8)
    raise MaskEncodingError(
        f"every pixel of the mask is {values[0]}: an all-crack mask, or an inverted empty mask? "
        f"Empty masks must be 0 everywhere")
  if set(values.tolist()) <= {0, 1} or (values.size == 2 and values[0] == 0):
    return (array == values[1]).astype(np.uint8)
  scale = _full_scale(array)
  if values.max() < scale / 2:
    raise MaskEncodingError(
        f"mask has {values.size} grey values {_values_text(values)}, none in the upper half of the "
        f"{scale:g} scale: class labels or a faint mask, not crack (light) on background (0)")
  crack = array >= scale / 2
  low = (array > values[0]) & ~crack
  if low.any():
    near = scipy.ndimage.maximum_filter(crack.view(np.uint8), size=2 * FRINGE_PX + 1).astype(bool)
    far = low & ~near
    if far.any():
      far_values = np.unique(array[far])
      raise AmbiguousMaskError(
          f"mask has {values.size} grey values {_values_text(values)}: {int(far.sum())} pixels with "
          f"values {_values_text(far_values)} below half the {scale:g} scale lie more than {FRINGE_PX} px "
          f"from any crack pixel (>= {scale / 2:g}), so they are not the soft edge of a crack but labels "
          f"of their own (classes?); a half-scale cut would drop them. Make the mask 0 (background) / "
          f"255 (crack), or pass --config.data.ambiguous_masks=threshold to keep only values >= "
          f"{scale / 2:g} as crack", crack.astype(np.uint8))
  return crack.astype(np.uint8)


def _colour(rgb: np.ndarray) -> np.ndarray:
  """`[H, W, 3] uint8` with differing channels -> `[H, W] uint8` {0, 1}, rule 4."""
  flat = rgb.reshape(-1, 3)
  nonblack = np.any(flat != 0, axis=1)
  if not nonblack.any():
    return np.zeros(rgb.shape[:2], np.uint8)
  colours, counts = np.unique(flat[nonblack], axis=0, return_counts=True)
  crack = colours[np.argmax(counts)].astype(np.float32)
  # Position t of each pixel along black -> crack colour, and its distance from that line.
  c = flat.astype(np.float32)
  t = (c @ crack) / float(crack @ crack)
  residual = np.abs(c - t[:, None] * crack[None, :]).max(axis=1)
  off = residual > COLOUR_TOLERANCE
  if off.any():
    bad, bad_counts = np.unique(flat[off], axis=0, return_counts=True)
    order = np.argsort(-bad_counts)[:3]
    names = ", ".join(f"{tuple(int(v) for v in bad[i])} ({bad_counts[i]} px)" for i in order)
    raise MaskEncodingError(
        f"colour mask: crack colour {tuple(int(v) for v in crack)} on black, but {int(off.sum())} "
        f"pixels have other colours, e.g. {names}; a colour mask must hold one crack colour on a "
        f"black background")
  return (t >= 0.5).reshape(rgb.shape[:2]).astype(np.uint8)


def normalise(array: np.ndarray) -> np.ndarray:
  """`[H, W]`, `[H, W, 1]` grey or `[H, W, 3|4]` colour mask (any dtype) -> `[H, W] uint8` {0, 1}.

  Raises MaskEncodingError when the values fit none of the module's rules.
  """
  array = np.asarray(array)
  if array.ndim == 3 and array.shape[-1] in (2, 4):        # grey+alpha / colour+alpha
    alpha = array[..., -1].astype(np.float64) / _full_scale(array)
    colour = array[..., :-1]
    if not np.all(alpha == 1.0):
      colour = np.rint(colour.astype(np.float64) * alpha[..., None]).astype(array.dtype)
    array = colour
  if array.ndim == 3 and array.shape[-1] == 1:
    array = array[..., 0]
  if array.ndim == 3 and array.shape[-1] == 3:
    if np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 1], array[..., 2]):
      array = array[..., 0]
    else:
      if array.dtype != np.uint8:
        raise MaskEncodingError(f"colour mask of type {array.dtype}; colour masks must be 8-bit")
      out = _colour(array)
      _check_fraction(out)
      return out
  if array.ndim != 2:
    raise MaskEncodingError(f"mask of shape {array.shape} is neither grey [H, W] nor colour [H, W, 3]")
  out = _grey(array)
  _check_fraction(out)
  return out


def _check_fraction(mask: np.ndarray) -> None:
  fraction = float(mask.mean()) if mask.size else 0.0
  if fraction > MAX_CRACK_FRACTION:
    raise MaskEncodingError(
        f"{100 * fraction:.1f}% of the mask is crack: an inverted mask (cracks dark on a light "
        f"background)? Masks must draw cracks light (non-zero) on a black (0) background")


def to_array(image: PIL.Image.Image) -> np.ndarray:
  """A decoded PIL mask -> numpy, palette masks as their RGB(A) colours (rule 1)."""
  if image.mode == "P":
    image = image.convert("RGBA" if "transparency" in image.info else "RGB")
  elif image.mode == "PA":
    image = image.convert("RGBA")
  elif image.mode == "1":
    return np.asarray(image, dtype=bool)
  elif image.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
    image = image.convert("RGB")
  return np.asarray(image)


def read_mask(path_or_bytes, ambiguous: str = "error") -> np.ndarray:
  """A mask file (path or bytes) -> `[H, W] uint8` {0, 1}. Raises OSError if unreadable, MaskEncodingError.

  `ambiguous="threshold"` (config.data.ambiguous_masks) accepts a mask that fails rule 3c only for its
  low values (`AmbiguousMaskError`): it is cut at half the scale, and a warning names the file.
  """
  source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
  with PIL.Image.open(source) as image:
    image.load()
    array = to_array(image)
  try:
    return normalise(array)
  except AmbiguousMaskError as e:
    if ambiguous != "threshold":
      raise
    _check_fraction(e.thresholded)
    name = "<bytes>" if isinstance(path_or_bytes, bytes) else os.fspath(path_or_bytes)
    logging.warning("%s: %s. Accepted as config.data.ambiguous_masks=threshold asks: crack = values "
                    ">= half the scale.", name, e)
    return e.thresholded


def read_cfd_mat(path: str | os.PathLike) -> np.ndarray:
  """CrackForest's original ground truth (`groundTruth/NNN.mat`) -> `[H, W] uint8` {0, 1}.

  The file holds a struct `groundTruth` whose field `Segmentation` labels pixels 1 (background) and
  2 (crack). Raises MaskEncodingError for anything else (other labels, missing fields).
  """
  import scipy.io  # noqa: PLC0415  (only CFD needs it)
  try:
    mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
  except Exception as e:  # noqa: BLE001  (scipy raises many kinds on a damaged file)
    raise OSError(f"not a readable MATLAB file ({e})") from e
  if "groundTruth" not in mat:
    keys = sorted(k for k in mat if not k.startswith("__"))
    raise MaskEncodingError(f"no variable 'groundTruth' in the .mat file (it holds {keys})")
  gt = mat["groundTruth"]
  while isinstance(gt, np.ndarray) and gt.dtype == object and gt.size >= 1:  # a cell of structs
    gt = gt.flat[0]
  seg = getattr(gt, "Segmentation", None)
  if seg is None:
    raise MaskEncodingError("'groundTruth' has no field 'Segmentation'")
  seg = np.asarray(seg)
  values = np.unique(seg)
  if seg.ndim != 2 or not set(values.tolist()) <= {1, 2}:
    raise MaskEncodingError(
        f"groundTruth.Segmentation of shape {seg.shape} has labels {_values_text(values)}; CFD "
        f"labels are 1 (background) and 2 (crack)")
  out = (seg == 2).astype(np.uint8)
  _check_fraction(out)
  return out

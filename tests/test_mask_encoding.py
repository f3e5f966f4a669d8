"""The mask normalisation rule: every common encoding -> {0, 1}, and every uninterpretable mask an error."""

import io

import numpy as np
import PIL.Image
import pytest
import scipy.io

from crackjax.data import mask_encoding

TRUTH = np.zeros((24, 32), np.uint8)
TRUTH[5:8, 3:29] = 1         # a horizontal crack
TRUTH[8:20, 14] = 1          # and a branch


def _png(array, mode=None, **info) -> bytes:
  buf = io.BytesIO()
  image = PIL.Image.fromarray(array, mode) if mode else PIL.Image.fromarray(array)
  image.save(buf, format="PNG", **info)
  return buf.getvalue()


def _jpeg(array) -> bytes:
  buf = io.BytesIO()
  PIL.Image.fromarray(array).save(buf, format="JPEG", quality=75)
  return buf.getvalue()


def _palette(indices: np.ndarray, colours) -> bytes:
  image = PIL.Image.frombytes("P", indices.shape[::-1], indices.astype(np.uint8).tobytes())
  image.putpalette([v for c in colours for v in c])
  buf = io.BytesIO()
  image.save(buf, format="PNG")
  return buf.getvalue()


def _antialiased() -> np.ndarray:
  """0..255 with soft edges: the crack at 200..255, a 1-px fringe at 60..100."""
  a = TRUTH.astype(np.float64) * 255
  a[4, 3:29] = 90
  a[8, 3:29] = np.where(TRUTH[8, 3:29], 200, 100)
  a[9:20, 13] = 60
  return a.astype(np.uint8)


@pytest.mark.parametrize("name, data", [
    ("0/1 grey", _png(TRUTH)),
    ("0/255 grey", _png(TRUTH * 255)),
    ("0/38 label index", _png(TRUTH * 38)),
    ("bilevel mode 1", _png(TRUTH.astype(bool))),
    ("16-bit 0/65535", _png((TRUTH.astype(np.uint16) * 65535))),
    ("RGB white on black", _png(np.repeat(TRUTH[..., None] * 255, 3, -1))),
    ("RGB one colour", _png(TRUTH[..., None] * np.array([255, 0, 0], np.uint8))),
    ("palette black/red", _palette(TRUTH, [(0, 0, 0), (128, 0, 0)])),
    ("RGBA transparent background", _png(np.dstack([TRUTH * 255] * 3 + [TRUTH * 255]))),
    ("grey+alpha opaque", _png(np.dstack([TRUTH * 255, np.full_like(TRUTH, 255)]), "LA")),
])
def test_common_encodings_normalise_exactly(name, data):
  out = mask_encoding.read_mask(data)
  assert out.dtype == np.uint8 and out.shape == TRUTH.shape, name
  np.testing.assert_array_equal(out, TRUTH, err_msg=name)


def test_antialiased_and_jpeg_masks_threshold_at_half_scale():
  soft = _antialiased()
  np.testing.assert_array_equal(mask_encoding.read_mask(_png(soft)), (soft >= 128).astype(np.uint8))
  np.testing.assert_array_equal(mask_encoding.read_mask(_png(soft)), TRUTH)   # fringe < 128
  jpeg = mask_encoding.read_mask(_jpeg(TRUTH * 255))
  assert (jpeg != TRUTH).mean() < 0.02          # JPEG ringing moves at most a few edge pixels
  coloured = (_antialiased()[..., None].astype(np.float64) * np.array([0, 1.0, 0.5])).astype(np.uint8)
  np.testing.assert_array_equal(mask_encoding.read_mask(_png(coloured)), TRUTH)


def test_float_masks():
  np.testing.assert_array_equal(mask_encoding.normalise(TRUTH.astype(np.float32)), TRUTH)
  np.testing.assert_array_equal(mask_encoding.normalise(TRUTH * 0.9 + 0.05), TRUTH)
  with pytest.raises(mask_encoding.MaskEncodingError, match="NaN"):
    mask_encoding.normalise(np.full((4, 4), np.nan))


def test_empty_mask_is_all_background():
  np.testing.assert_array_equal(mask_encoding.read_mask(_png(np.zeros((5, 6), np.uint8))), 0)


@pytest.mark.parametrize("array, message", [
    (np.full((6, 6), 255, np.uint8), "every pixel of the mask is 255"),
    ((TRUTH + 1).astype(np.uint8), "none in the upper half"),
    (np.array([[0, 1, 2, 3]] * 4, np.uint8), "class labels"),
    ((1 - TRUTH) * 255, "inverted"),
    (np.dstack([TRUTH * 255, (1 - TRUTH) * 255 * (np.arange(32) < 3), np.zeros_like(TRUTH)]),
     "other colours"),
    (np.dstack([np.full_like(TRUTH, 255)] * 3) - np.dstack([TRUTH * 255, TRUTH * 255, 0 * TRUTH]),
     "other colours|inverted"),
    (np.zeros((4, 4, 5), np.uint8), "neither grey"),
])
def test_uninterpretable_masks_raise_naming_what_was_found(array, message):
  with pytest.raises(mask_encoding.MaskEncodingError, match=message):
    mask_encoding.normalise(array)


def test_second_class_colour_is_named():
  two = TRUTH[..., None] * np.array([255, 0, 0], np.uint8)
  two[20:23, 0:4] = (0, 255, 0)
  with pytest.raises(mask_encoding.MaskEncodingError, match=r"\(0, 255, 0\) \(12 px\)"):
    mask_encoding.read_mask(_png(two))


def test_cfd_mat_ground_truth(tmp_path):
  seg = TRUTH.astype(np.uint8) + 1            # CFD: 1 background, 2 crack
  path = tmp_path / "001.mat"
  scipy.io.savemat(path, {"groundTruth": {"Segmentation": seg, "Boundaries": TRUTH}})
  np.testing.assert_array_equal(mask_encoding.read_cfd_mat(path), TRUTH)
  bad = tmp_path / "002.mat"
  scipy.io.savemat(bad, {"groundTruth": {"Segmentation": seg + 1}})
  with pytest.raises(mask_encoding.MaskEncodingError, match="labels are 1 .background. and 2"):
    mask_encoding.read_cfd_mat(bad)
  other = tmp_path / "003.mat"
  scipy.io.savemat(other, {"gt": seg})
  with pytest.raises(mask_encoding.MaskEncodingError, match="no variable 'groundTruth'"):
    mask_encoding.read_cfd_mat(other)
  junk = tmp_path / "004.mat"
  junk.write_bytes(b"not a mat file at all")
  with pytest.raises(OSError):
    mask_encoding.read_cfd_mat(junk)


def _labels() -> np.ndarray:
  """{0, 1, 2, 128}: three kinds of crack far apart, as label masks hold them (the issue's probe)."""
  m = np.zeros((64, 64), np.uint8)
  m[5, 2:60], m[30, 2:60], m[55, 2:60] = 128, 1, 2
  return m


def test_low_values_far_from_any_crack_are_ambiguous_and_named():
  """A half-scale cut would keep only the 128 crack and drop two thirds of the labelled pixels."""
  with pytest.raises(mask_encoding.AmbiguousMaskError,
                     match=r"4 grey values \{0, 1, 2, 128\}: 116 pixels with values \{1, 2\} below half "
                           r"the 255 scale lie more than 16 px from any crack pixel"):
    mask_encoding.read_mask(_png(_labels()))


def test_the_explicit_option_accepts_an_ambiguous_mask_and_logs_its_file(tmp_path, caplog):
  path = tmp_path / "labels.png"
  path.write_bytes(_png(_labels()))
  with caplog.at_level("WARNING"):
    out = mask_encoding.read_mask(str(path), ambiguous="threshold")
  np.testing.assert_array_equal(out, _labels() >= 128)
  assert f"{path}: mask has 4 grey values" in caplog.text and "ambiguous_masks=threshold" in caplog.text
  with pytest.raises(ValueError, match="ambiguous_masks='maybe'"):
    mask_encoding.check_ambiguous_option("maybe")


def test_a_soft_edge_and_a_uniform_background_are_not_ambiguous():
  """Rule 3c's low values next to a crack (within 16 px) are its edge; a constant background other
  than 0 is the background."""
  soft = _antialiased()
  soft[20, 14] = 3                  # a faint pixel 6 px below the crack row: still its edge
  np.testing.assert_array_equal(mask_encoding.normalise(soft), TRUTH)
  np.testing.assert_array_equal(mask_encoding.normalise((TRUTH * 200 + 20).astype(np.uint8)), TRUTH)

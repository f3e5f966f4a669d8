"""crackjax.tiling: grid geometry, blend weights, streaming stitching (pure numpy, no model)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from crackjax.inference import tile_grid


@given(length=st.integers(1, 3000), tile=st.integers(1, 600), overlap_frac=st.floats(0, 0.9))
@settings(max_examples=300, deadline=None)
def test_origins_cover_the_axis_with_at_least_the_requested_overlap(length, tile, overlap_frac):
  overlap = int(overlap_frac * tile)
  if length < tile:
    with pytest.raises(ValueError, match="pad"):
      tile_grid.tile_origins(length, tile, overlap)
    return
  o = tile_grid.tile_origins(length, tile, overlap)
  assert o[0] == 0 and o[-1] == length - tile
  assert np.all(np.diff(o) > 0)
  assert np.all(tile - np.diff(o) >= overlap)  # consecutive overlap
  # Not more tiles than needed: one fewer could not keep the overlap.
  if len(o) > 1:
    assert (len(o) - 2) * (tile - overlap) < length - tile


@given(length=st.integers(16, 2000), tile=st.integers(16, 300), overlap_frac=st.floats(0, 0.9),
       margin_frac=st.floats(0, 0.5))
@settings(max_examples=300, deadline=None)
def test_axis_weights_are_a_partition_of_unity_with_zero_inner_margins(length, tile, overlap_frac,
                                                                       margin_frac):
  if length < tile:
    return
  overlap = int(overlap_frac * tile)
  margin = int(margin_frac * overlap / 2)
  o = tile_grid.tile_origins(length, tile, overlap)
  w = tile_grid.axis_weights(o, tile, margin)
  assert np.all(w >= 0) and np.all(w <= 1)
  total = np.zeros(length)
  for origin, wk in zip(o, w):
    total[origin:origin + tile] += wk
  np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)
  for k in range(len(o)):
    if k > 0:
      assert np.all(w[k, :margin] == 0), "inner left margin must not contribute"
    else:
      assert w[k, 0] == 1.0, "the image border keeps full weight"
    if k < len(o) - 1:
      assert np.all(w[k, tile - margin:] == 0), "inner right margin must not contribute"
    else:
      assert w[k, -1] == 1.0
  # At most two tiles contribute to any pixel.
  cover = np.zeros(length, int)
  for origin, wk in zip(o, w):
    cover[origin:origin + tile] += wk > 0
  assert cover.max() <= 2


def test_overlap_smaller_than_two_margins_is_refused():
  with pytest.raises(ValueError, match="margin"):
    tile_grid.make_grid(300, 300, 128, overlap=16, margin=9)


@pytest.mark.parametrize("height,width,tile,overlap,margin", [
    (1000, 700, 256, 64, 8), (257, 513, 256, 32, 0), (256, 256, 256, 64, 16), (4096, 300, 512, 128, 32)])
def test_a_constant_model_stitches_to_exactly_that_constant(height, width, tile, overlap, margin):
  grid = tile_grid.make_grid(height, width, min(tile, height), min(tile, width), overlap=overlap,
                          margin=margin)
  for c in (np.float32(0.0), np.float32(0.3), np.float32(1 / 3), np.float32(0.999), np.float32(1.0)):
    out = tile_grid.stitch(grid, np.full((len(grid), grid.tile_h, grid.tile_w), c, np.float32))
    assert out.dtype == np.float32 and out.shape == (height, width)
    assert np.array_equal(out, np.full_like(out, c)), c


def _local_model(tile: np.ndarray) -> np.ndarray:
  """Translation-equivariant with receptive-field radius 2: a 5x5 box filter with zero padding (so it
  is wrong within 2 px of any edge it is applied at, like a conv net's padding)."""
  return ndi.uniform_filter(tile.astype(np.float64), size=5, mode="constant").astype(np.float32)


@pytest.mark.parametrize("height,width", [(333, 517), (700, 1000), (129, 900)])
def test_a_translation_equivariant_model_gives_a_seam_free_map(height, width):
  rng = np.random.default_rng(0)
  image = rng.random((height, width)).astype(np.float32)
  tile, overlap = 128, 32
  full = _local_model(image)  # the model applied to the whole image at once
  grid = tile_grid.make_grid(height, width, tile, overlap=overlap, margin=2)
  out = tile_grid.stitch(grid, np.stack([_local_model(t) for t in tile_grid.tiles(image, grid, 0, len(grid))]))
  np.testing.assert_allclose(out, full, rtol=0, atol=1e-6)

  # Without the margin the tiles' zero-padded edges leak in: the test can see seams.
  grid0 = tile_grid.make_grid(height, width, tile, overlap=overlap, margin=0)
  out0 = tile_grid.stitch(grid0, np.stack([_local_model(t) for t in tile_grid.tiles(image, grid0, 0, len(grid0))]))
  assert np.abs(out0 - full).max() > 1e-4


def test_a_pointwise_model_stitches_exactly():
  rng = np.random.default_rng(1)
  image = rng.random((611, 843)).astype(np.float32)
  grid = tile_grid.make_grid(611, 843, 200, overlap=40, margin=0)
  out = tile_grid.stitch(grid, np.stack([np.sqrt(t) for t in tile_grid.tiles(image, grid, 0, len(grid))]))
  np.testing.assert_array_equal(out, np.sqrt(image))


def test_streaming_bands_cover_each_row_once_in_order_and_stay_small():
  height, width = 2000, 300
  grid = tile_grid.make_grid(height, width, 256, overlap=64, margin=8)
  stitcher = tile_grid.Stitcher(grid)
  rows, max_band = 0, 0
  for i in range(len(grid)):
    for y0, band in stitcher.add(i, np.ones((256, 256), np.float32)):
      assert y0 == rows and band.shape[1] == width
      rows += len(band)
      max_band = max(max_band, len(band))
  assert rows == height
  assert max_band <= 256
  assert stitcher._acc.shape == (256, width)


def test_tiles_out_of_order_are_refused():
  grid = tile_grid.make_grid(300, 300, 128, overlap=32)
  stitcher = tile_grid.Stitcher(grid)
  stitcher.add(0, np.zeros((128, 128), np.float32))
  with pytest.raises(ValueError, match="raster order"):
    stitcher.add(2, np.zeros((128, 128), np.float32))


@pytest.mark.parametrize("length,tile,multiple,expected", [
    (700, 512, 32, (512, 704)), (100, 512, 32, (128, 128)), (512, 512, 32, (512, 512)),
    (33, 512, 16, (48, 48)), (6000, 512, 32, (512, 6016))])
def test_padded_size(length, tile, multiple, expected):
  assert tile_grid.padded_size(length, tile, multiple) == expected


@given(length=st.integers(1, 400).map(lambda n: n * 16), tile=st.integers(1, 40).map(lambda n: n * 16),
       overlap=st.integers(0, 200))
@settings(max_examples=200, deadline=None)
def test_aligned_origins_are_multiples_and_keep_the_overlap(length, tile, overlap):
  if tile > length:
    return
  margin = 0
  grid = tile_grid.make_grid(length, 16, tile, 16, overlap=overlap, margin=margin, align=16)
  o = grid.ys
  assert np.all(o % 16 == 0) and o[0] == 0 and o[-1] == length - tile
  assert np.all(tile - np.diff(o) >= min(overlap, tile - 16))


@pytest.mark.parametrize("h,w", [(5, 7), (100, 37), (129, 130)])
def test_tiles_mirror_pad_like_numpy_without_copying_the_image(h, w):
  rng = np.random.default_rng(h)
  image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
  tile_h, ph = tile_grid.padded_size(h, 64, 32)
  tile_w, pw = tile_grid.padded_size(w, 64, 32)
  grid = tile_grid.make_grid(ph, pw, tile_h, tile_w, overlap=32, align=32)
  padded = np.pad(image, ((0, ph - h), (0, pw - w), (0, 0)), mode="symmetric")
  np.testing.assert_array_equal(tile_grid.tiles(image, grid, 0, len(grid)),
                                tile_grid.tiles(padded, grid, 0, len(grid)))

import numpy as np
import pytest

from crackjax.data import patch_index


def test_grid_origins_cover_the_image_to_its_edge():
  np.testing.assert_array_equal(patch_index.grid_origins(10, 4, 3), [0, 3, 6])
  np.testing.assert_array_equal(patch_index.grid_origins(11, 4, 3), [0, 3, 6, 7])
  np.testing.assert_array_equal(patch_index.grid_origins(3, 4, 3), [0])


def test_window_counts_match_brute_force():
  rng = np.random.default_rng(0)
  mask = (rng.random((37, 53)) < 0.05).astype(np.uint8)
  counts, ys, xs = patch_index.window_counts(mask, 8, 5)
  for i, y in enumerate(ys):
    for j, x in enumerate(xs):
      assert counts[i, j] == mask[y:y + 8, x:x + 8].sum()


def test_index_pools_and_statistics():
  mask = np.zeros((32, 32), np.uint8)
  mask[2, 2] = 1            # one crack pixel in the top-left window only
  mask[20:23, 20:23] = 1    # 9 pixels
  index = patch_index.build([mask, np.zeros((16, 16), np.uint8)], patch=16, stride=16, min_crack_pixels=1)
  assert {tuple(r) for r in index.pos} == {(0, 0, 0), (0, 16, 16)}
  assert {tuple(r) for r in index.neg} == {(0, 0, 16), (0, 16, 0), (1, 0, 0)}
  assert index.natural_pos_rate == pytest.approx(2 / 5)
  assert index.pixel_pos_fraction == pytest.approx(10 / (32 * 32 + 16 * 16))
  strict = patch_index.build([mask], patch=16, stride=16, min_crack_pixels=5)
  assert {tuple(r) for r in strict.pos} == {(0, 16, 16)}          # 1-pixel window is in neither pool
  assert len(strict.neg) == 2


def test_cache_round_trip(tmp_path):
  class Source(list):
    pass
  src = Source([{"mask": np.eye(8, dtype=np.uint8)[..., None]}])
  a = patch_index.load_or_build(src, str(tmp_path), "train", 4, 4, 1)
  b = patch_index.load_or_build([], str(tmp_path), "train", 4, 4, 1)   # read from the cache
  np.testing.assert_array_equal(a.pos, b.pos)
  np.testing.assert_array_equal(a.neg, b.neg)
  assert (a.crack_pixels, a.total_pixels) == (b.crack_pixels, b.total_pixels) == (8, 64)

"""The tile store: crops assembled from tiles equal crops of the decoded full images, bit for bit."""

import pickle

import numpy as np
import pytest

from crackjax.data import input_pipeline
from crackjax.data import patch_index
from crackjax.data import sources
from crackjax.data import tile_store


class _Source(list):
  """A stand-in for a tfds data source: a list of {'image', 'mask'} dicts."""


def _source(shapes, seed=0):
  rng = np.random.default_rng(seed)
  out = _Source()
  for h, w in shapes:
    mask = np.zeros((h, w, 1), np.uint8)
    mask[rng.integers(h), :, 0] = 1
    mask[:, rng.integers(w), 0] = 1
    out.append({"image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "mask": mask})
  return out


@pytest.fixture(scope="module", params=tile_store.CODECS)
def store(request, tmp_path_factory):
  src = _source([(70, 100), (33, 40), (16, 16)])
  path = tile_store.load_or_build(src, str(tmp_path_factory.mktemp("tiles")), "train", 16, request.param)
  assert path.endswith(f"tiles_train_t16_{request.param}")
  return src, path


def test_tile_crops_equal_full_image_crops(store):
  src, path = store
  tiled, full = tile_store.TiledImages(path, cache_mb=1), input_pipeline.FullImages(src)
  rng = np.random.default_rng(1)
  for _ in range(200):
    i = int(rng.integers(len(src)))
    h, w = src[i]["mask"].shape[:2]
    size = int(rng.choice([8, 16, 24, 40]))
    y, x = int(rng.integers(0, max(h - size, 0) + 1)), int(rng.integers(0, max(w - size, 0) + 1))
    for a, b in zip(tiled.crop(i, y, x, size), full.crop(i, y, x, size)):
      np.testing.assert_array_equal(a, b)
  # Windows over the edge of a small image are zero-padded like input_pipeline.crop.
  for a, b in zip(tiled.crop(2, 0, 0, 24), full.crop(2, 0, 0, 24)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("codec", tile_store.CODECS)
def test_crack_free_mask_tiles_are_stored_empty(codec):
  image = np.zeros((32, 32, 3), np.uint8)
  mask = np.zeros((32, 32), np.uint8)
  mask[3, 3] = 1
  records = list(tile_store.encode_tiles(image, mask, 16, codec))
  lengths = [int.from_bytes(r[:4], "little") for r in records]
  assert [len(r) - 4 - n > 0 for r, n in zip(records, lengths)] == [True, False, False, False]


def test_cache_is_bounded_and_not_pickled(store):
  src, path = store
  tiled = tile_store.TiledImages(path, cache_mb=0.002)       # ~2 KB: a few 16x16 tiles
  for y in range(0, 60, 8):
    tiled.crop(0, y, 0, 16)
  assert 0 < tiled._cache.total <= 0.002 * 2**20
  clone = pickle.loads(pickle.dumps(tiled))
  assert clone._reader is None and not clone._cache
  for a, b in zip(clone.crop(0, 5, 7, 16), tiled.crop(0, 5, 7, 16)):
    np.testing.assert_array_equal(a, b)


def test_bad_tile_settings_are_refused(tmp_path):
  with pytest.raises(ValueError, match="crop_tile_size=8"):
    tile_store.load_or_build(_source([(8, 8)]), str(tmp_path), "train", 8)
  with pytest.raises(ValueError, match="crop_tile_codec='webp'"):
    tile_store.load_or_build(_source([(8, 8)]), str(tmp_path), "train", 16, "webp")


def test_sampler_streams_the_same_pools_from_tiles(smoke_builder, smoke_config):
  """The training stream is identical whether patches come from whole images or from the tile store."""
  d = smoke_config.data.copy_and_resolve_references()
  index = patch_index.load_or_build(sources.split_source(smoke_builder, "train", decode_images=False),
                                smoke_builder.data_dir, "train", d.patch_size, d.patch_stride,
                                d.min_crack_pixels)
  d.crop_tile_size, d.crop_tile_codec = 48, "raw"
  tiled = sources.crop_source(smoke_builder, "train", d)
  assert isinstance(tiled, tile_store.TiledImages)
  args = dict(patch_size=64, global_batch=4, seed=3)
  a = input_pipeline.PoolSampler(sources.split_source(smoke_builder, "train"), index, **args)
  b = input_pipeline.PoolSampler(None, index, images=tiled, **args)
  for step in (0, 5):
    pa, pb = a(step), b(step)
    for k in pa:
      np.testing.assert_array_equal(pa[k], pb[k])

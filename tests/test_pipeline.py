"""The Grain patch-pool stream: shapes, determinism, workers, hosts, augmentation."""

import numpy as np
import pytest

from crackjax.data import input_pipeline
from crackjax.data import patch_index
from crackjax.data import sources


@pytest.fixture(scope="module")
def index(smoke_builder, smoke_config):
  d = smoke_config.data
  return patch_index.load_or_build(sources.split_source(smoke_builder, "train", decode_images=False),
                               smoke_builder.data_dir, "train", d.patch_size, d.patch_stride,
                               d.min_crack_pixels)


def _sampler(smoke_builder, index, **kw):
  args = dict(patch_size=64, global_batch=4, seed=7)
  args.update(kw)
  return input_pipeline.PoolSampler(sources.split_source(smoke_builder, "train"), index, **args)


def test_pool_shapes_and_pools_are_what_they_claim(smoke_builder, index):
  pool = _sampler(smoke_builder, index, augment=False)(3)
  for kind in ("pos", "neg"):
    assert pool[f"{kind}_image"].shape == (4, 64, 64, 3) and pool[f"{kind}_image"].dtype == np.uint8
    assert pool[f"{kind}_mask"].shape == (4, 64, 64, 1) and set(np.unique(pool[f"{kind}_mask"])) <= {0, 1}
  assert np.all(pool["pos_mask"].reshape(4, -1).sum(1) >= 1)
  assert np.all(pool["neg_mask"].sum() == 0)


def test_augmentation_keeps_image_and_mask_aligned(smoke_builder, index):
  plain = _sampler(smoke_builder, index, augment=False)
  aug = _sampler(smoke_builder, index, augment=True, brightness=0.0, contrast=0.0)
  plan = plain.draw(5)
  a, b = plain(5), aug(5)
  for slot in range(4):
    code = int(plan["dihedral"][0, slot])
    np.testing.assert_array_equal(input_pipeline.dihedral(a["pos_mask"][slot], code), b["pos_mask"][slot])
    np.testing.assert_array_equal(input_pipeline.dihedral(a["pos_image"][slot], code), b["pos_image"][slot])


def test_stream_is_deterministic_and_identical_across_workers(smoke_builder, index):
  sampler = _sampler(smoke_builder, index)
  in_process = list(input_pipeline.train_dataset(sampler, 6, num_workers=0))
  again = list(input_pipeline.train_dataset(_sampler(smoke_builder, index), 6, num_workers=0))
  it = iter(input_pipeline.train_dataset(_sampler(smoke_builder, index), 6, num_workers=2))
  workers = list(it)
  assert len(in_process) == len(workers) == 6
  for x, y, z in zip(in_process, again, workers):
    for k in x:
      np.testing.assert_array_equal(x[k], y[k])
      np.testing.assert_array_equal(x[k], z[k])
  assert not np.array_equal(in_process[0]["pos_image"], in_process[1]["pos_image"])


def test_iterator_state_resumes_the_stream(smoke_builder, index):
  ds = input_pipeline.train_dataset(_sampler(smoke_builder, index), 6, num_workers=0)
  it = iter(ds)
  next(it), next(it)
  saved = it.get_state()
  rest = [next(it) for _ in range(4)]
  it2 = iter(ds)
  it2.set_state(saved)
  for a in rest:
    np.testing.assert_array_equal(a["pos_image"], next(it2)["pos_image"])


def test_each_host_loads_its_slice_of_the_same_global_pool(smoke_builder, index):
  whole = _sampler(smoke_builder, index)(2)
  halves = [_sampler(smoke_builder, index, process_index=p, process_count=2)(2) for p in range(2)]
  for k in whole:
    np.testing.assert_array_equal(whole[k], np.concatenate([h[k] for h in halves]))


def test_empty_pool_is_an_error_that_says_what_to_change(smoke_builder, index):
  empty = patch_index.PatchIndex(index.pos, index.neg[:0], 1, 10)
  with pytest.raises(ValueError, match="patch_size"):
    _sampler(smoke_builder, empty)


def test_full_image_batches_pad_to_the_stride(smoke_builder):
  source = sources.split_source(smoke_builder, "val")
  batches = list(input_pipeline.full_image_batches(source, batch_size=4, stride=96))
  assert len(batches) == 1
  b = batches[0]
  assert b["image"].shape == (4, 288, 288, 3)
  assert len(b["mask"]) == len(source) == 2 and b["size"][0] == (256, 256)
  np.testing.assert_array_equal(b["image"][0, :256, :256], source[0]["image"])
  assert not b["image"][2:].any()

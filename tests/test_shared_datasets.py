"""The real datasets in ../shared/datasets (crack_folder layout), read where they exist.

A fresh clone has no ../shared: these tests then skip, saying so. crack500 (1896 pairs) is only listed
and checked here, not prepared, to keep the suite fast; cfd and aigle are prepared end to end.
"""

import pathlib

import numpy as np
import pytest

from crackjax import config_base
from crackjax.data import builders
from crackjax.data import input_pipeline
from crackjax.data import pair_check
from crackjax.data import patch_index
from crackjax.data import sources


SHARED_DATASETS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
EXPECTED = {  # ../shared/datasets/README.md
    "cfd": {"train": 60, "val": 12, "test": 46},
    "aigle": {"train": 152, "val": 39, "test": 78},
    "crack500": {"train": 1253, "val": 201, "test": 442},
}


def _root(name):
  root = SHARED_DATASETS / name
  if not (root / "splits.csv").exists():
    pytest.skip(f"{root} is absent (the shared datasets live beside the repository, not in it)")
  return root


@pytest.mark.parametrize("name", ["cfd", "aigle"])
def test_shared_copy_prepares_and_yields_patches(name, tmp_path):
  d = config_base.base().data
  d.name, d.manual_dir, d.tfds_dir = "crack_folder", str(_root(name)), str(tmp_path)
  builder = sources.get_builder(d)
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == EXPECTED[name]
  assert builder.info.metadata["skipped_pairs"] == []
  train = sources.split_source(builder, "train")
  first = train[0]
  assert first["image"].dtype == np.uint8 and first["image"].shape[-1] == 3
  assert first["mask"].shape == first["image"].shape[:2] + (1,)
  assert set(np.unique(first["mask"])) <= {0, 1}
  index = patch_index.load_or_build(sources.split_source(builder, "train", decode_images=False),
                                builder.data_dir, "train", 64, 32, 1)
  assert len(index.pos) > 0 and len(index.neg) > 0
  pool = input_pipeline.PoolSampler(train, index, patch_size=64, global_batch=4, seed=0)(0)
  assert pool["pos_mask"].reshape(4, -1).sum(1).min() >= 1 and pool["neg_mask"].sum() == 0


def test_shared_cfd_reads_as_cfd_too(tmp_path):
  """The cfd builder accepts the shared copy (images/ + masks/, numbered stems) with the same splits."""
  listing = builders.Cfd.listing(str(_root("cfd")))
  assert not listing.problems
  got = {s: sum(p.split == s for p in listing.pairs) for s in ("train", "val", "test")}
  assert got == EXPECTED["cfd"]


def test_shared_crack500_every_pair_checks_out():
  listing = builders.CrackFolder.listing(str(_root("crack500")))
  report = pair_check.check(listing)
  assert report.problems == []
  assert {s: len(p) for s, p in report.pairs.items()} == EXPECTED["crack500"]
  # Its layout is not the official crop folders: the crack500 builder says which name to use.
  hints = [str(p) for p in builders.Crack500.listing(str(_root("crack500"))).problems]
  assert any("--config.data.name=crack_folder" in h for h in hints), hints

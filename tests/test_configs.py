"""Every configs/*.py file: loads, passes the whole config check, and its docstring opens with the
exact command that runs it. The extreme-imbalance benchmarks hold what the balance study needs of them."""

import csv
import importlib.util
import pathlib
import re

import numpy as np
import pytest

from crackjax import config_check
from crackjax.data import builders
from crackjax.data import sources
from crackjax.data import synthetic
from tests.conftest import REPO
from tests.conftest import SHARED_DATASETS

CONFIGS = sorted(p.stem for p in (REPO / "configs").glob("*.py"))


def _module(name: str):
  spec = importlib.util.spec_from_file_location(f"config_{name}", REPO / "configs" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _config(name: str, **overrides):
  config = _module(name).get_config()
  if config.data.name != "synthetic" and not config.data.manual_dir:
    config.data.manual_dir = "/any/folder"       # what the docstring's command passes on its line
  config.update_from_flattened_dict(overrides)
  return config


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_is_valid_and_its_docstring_holds_its_command(name):
  config_check.validate(_config(name))
  doc = _module(name).__doc__
  assert doc and f"--config configs/{name}.py" in doc, f"configs/{name}.py: no command in its docstring"
  assert re.search(r"python (-m crackjax\.main|experiments/\S+\.py)", doc), doc


def test_hrrc_synthetic_is_survey_scale_extreme_imbalance_through_the_tile_store():
  config = _config("hrrc_synthetic")
  s = config.data.synthetic
  assert (s.width, s.height) >= (4000, 3000) and s.distractors
  assert 0.001 <= s.crack_fraction[0] <= s.crack_fraction[1] <= 0.002
  assert config.data.crop_tile_size == config.data.patch_size == 256
  spec = sources.synthetic_builder_config(config.data).spec        # the spec the builder will draw with
  assert (spec.height, spec.width) == (s.height, s.width) and spec.crack_fraction == tuple(s.crack_fraction)


def test_hrrc_synthetic_puts_lane_markings_in_every_split():
  """The distractor that decided the first version's test split (4 images, one marked) must be seen by
  training, by the checkpoint selection (val) and by more than one test image."""
  config = _config("hrrc_synthetic")
  draw = sources.synthetic_builder_config(config.data)
  marked = {split: sum("lane_marking" in synthetic.distractors_present(
                draw.seed, builders.SYNTHETIC_SPLIT_OFFSETS[split] + i, draw.spec) for i in range(count))
            for split, count in draw.split_sizes.items()}
  assert marked["train"] >= 3 and marked["val"] >= 1 and marked["test"] >= 2, marked


@pytest.mark.slow
def test_hrrc_synthetic_images_hold_the_configured_crack_share_at_full_size():
  """One 4000x3000 training image as the builder draws it: 0.1-0.2% crack pixels (HRRC: ~0.14%)."""
  config = _config("hrrc_synthetic")
  spec = sources.synthetic_builder_config(config.data).spec
  image, mask = synthetic.generate(config.data.synthetic.seed, 0, spec)
  assert image.shape == (3000, 4000, 3) and image.dtype == np.uint8
  share = float(mask.mean())
  assert 0.001 <= share <= 0.002, share


def test_uav75_reads_the_official_splits_of_the_shared_copy():
  config = _config("uav75")
  assert config.data.name == "crack_folder" and config.data.patch_size == 128
  root = SHARED_DATASETS / "uav75"
  if not (root / "splits.csv").exists():
    pytest.skip(f"{root} is absent (research-use data read from ../shared, never copied into the repo)")
  with open(root / "splits.csv") as f:
    counts = {}
    for row in csv.DictReader(f):
      counts[row["split"]] = counts.get(row["split"], 0) + 1
  assert counts == {"train": 50, "val": 10, "test": 15}
  assert all(pathlib.Path(root, "images").glob("*"))

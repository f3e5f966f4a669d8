"""Test set-up: 4 fake CPU devices (before JAX initialises) and parsed absl flags (Grain needs them)."""

import os


os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pathlib  # noqa: E402

import pytest  # noqa: E402
from absl import flags  # noqa: E402


flags.FLAGS.mark_as_parsed()

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
  return REPO


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
  """One prepared-data directory shared by the whole session (synthetic data prepared once)."""
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def smoke_config(tfds_dir):
  """configs/smoke.py with its data prepared in the session's tfds dir."""
  import importlib.util  # noqa: PLC0415
  spec = importlib.util.spec_from_file_location("smoke_config", REPO / "configs" / "smoke.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  config.data.tfds_dir = tfds_dir
  config.progress_bar = False
  return config


@pytest.fixture(scope="session")
def smoke_builder(smoke_config):
  from crackjax.data import sources  # noqa: PLC0415
  return sources.get_builder(smoke_config.data)


@pytest.fixture(scope="session")
def trained_workdir(tmp_path_factory, smoke_config) -> pathlib.Path:
  """One `configs/smoke.py` run (12 steps, validated at 6 and 12), trained once per session (in this
  process, on its 4 fake devices) for the evaluate / predict tests; do not write into it except
  under eval/. The command line itself is tested in tests/test_train.py."""
  from crackjax.training import train  # noqa: PLC0415
  workdir = tmp_path_factory.mktemp("trained") / "run"
  train.train_and_evaluate(smoke_config.copy_and_resolve_references(), str(workdir))
  return workdir

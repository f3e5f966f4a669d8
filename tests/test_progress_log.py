"""The training log: its lines, the bar's postfix, the config diff, the known library noise filtered,
Grain's shared memory freed before exit, and the TensorBoard hparams."""

import json
import logging
import os
import subprocess
import sys

import pytest
import tqdm

from crackjax import config_base
from crackjax import library_noise
from crackjax.training import hparams
from crackjax.training import progress_log


def _train_scalars(**counts):
  tp, fp, fn = counts.get("tp", 0.0), counts.get("fp", 0.0), counts.get("fn", 0.0)
  return {"train/loss": 0.25, "train/precision": 1.0 if tp + fp == 0 else tp / (tp + fp),
          "train/recall": 1.0 if tp + fn == 0 else tp / (tp + fn),
          "train/f1": 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn),
          "train/tp": tp, "train/fp": fp, "train/fn": fn, "train/steps_per_s": 2.0}


def test_scores_that_are_0_over_0_show_as_a_dash():
  empty = {k[6:]: v for k, v in _train_scalars().items()}
  assert [progress_log.score_text(empty, k) for k in ("precision", "recall", "f1")] == ["-", "-", "-"]
  missed = {k[6:]: v for k, v in _train_scalars(fn=10.0).items()}
  assert progress_log.score_text(missed, "precision") == "-"
  assert progress_log.score_text(missed, "recall") == "0.000" and progress_log.score_text(missed, "f1") == "0.000"
  assert progress_log.score_text({"f1": 0.5}, "f1") == "0.500"      # without counts: as it is


def test_log_lines_with_and_without_the_bar(caplog):
  caplog.set_level(logging.INFO)
  for bar in (None, tqdm.tqdm(total=100, disable=False, file=open(os.devnull, "w"))):
    caplog.clear()
    log = progress_log.ProgressLog(100, 0, bar)
    log.train(10, _train_scalars())
    log.train(20, _train_scalars(tp=30.0, fp=10.0, fn=10.0))
    log.val(20, {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "iou": 0.2, "tp": 1.0, "fp": 1.0, "fn": 3.0})
    log.val(40, {"precision": 0.5, "recall": 0.5, "f1": 0.3, "iou": 0.2, "tp": 1.0, "fp": 1.0, "fn": 1.0})
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("step 10/100 (10%): loss 0.2500, train P - R - F1 -, 2.00 steps/s, ETA ")
    assert "train P 0.750 R 0.750 F1 0.750" in lines[1] and "ETA" in lines[1]
    assert lines[2] == "validation at step 20: P 0.500 R 0.250 F1 0.333 IoU 0.200 (best F1 0.333 at step 20)"
    assert lines[3].endswith("(best F1 0.333 at step 20)")
    if bar is not None:
      assert "val_f1=0.300" in bar.postfix and "f1=0.750" in bar.postfix and "loss=0.2500" in bar.postfix


def test_duration():
  assert progress_log.duration(42) == "42 s"
  assert progress_log.duration(600) == "10 min"
  assert progress_log.duration(3900) == "1 h 05 min"


def test_config_is_logged_as_its_diff_from_base():
  c = config_base.base()
  assert progress_log.config_lines(c) == []
  c.total_steps = 7
  c.model.base_channels = 8
  assert progress_log.config_lines(c) == ["  model.base_channels: 8 (default 16)",
                                          "  total_steps: 7 (default 1000)"]


def test_known_library_noise_is_dropped_and_the_rest_passes(caplog):
  library_noise.install()
  logger = logging.getLogger("absl")
  kept = []

  class Keep(logging.Handler):
    def emit(self, record):
      kept.append(record.getMessage())

  handler = Keep()
  logger.addHandler(handler)
  try:
    def log(path, message):
      logger.handle(logger.makeRecord("absl", logging.WARNING, path, 1, message, (), None))
    site = "/x/site-packages"
    log(f"{site}/tensorflow_datasets/core/dataset_builder.py", "Using custom data configuration: Foo(name='a')")
    log(f"{site}/tensorflow_datasets/core/features/image_feature.py", "OpenCV is not installed. We recommend")
    log(f"{site}/orbax/checkpoint/checkpoint_manager.py", "Requested `tracked_metric`; did not provide metrics.")
    log(f"{site}/orbax/checkpoint/checkpoint_manager.py", "Given directory is read only=/tmp/c")
    log(f"{site}/orbax/checkpoint/checkpoint_manager.py", "Something else went wrong")
    log("/work/crackjax/data/sources.py", "Using custom data configuration is our own words here")
  finally:
    logger.removeHandler(handler)
  assert kept == ["Something else went wrong", "Using custom data configuration is our own words here"]


_SHM_SCRIPT = '''
import sys
import numpy as np
import grain
from absl import flags
from crackjax.data import input_pipeline


def make(i):
  return {"x": np.full((8, 128, 128, 3), i, np.uint8)}


def main(close):
  ds = grain.MapDataset.range(12).map(make).to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
  ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=2, per_worker_buffer_size=2))
  it = iter(ds)
  for _ in range(12):
    assert next(it)["x"].shape == (8, 128, 128, 3)
  if close == "close_stream":
    input_pipeline.close_stream(it)
  else:
    it.close()
  print("done")


if __name__ == "__main__":
  flags.FLAGS.mark_as_parsed()
  main(sys.argv[1])
'''


def test_closing_the_stream_frees_grain_shared_memory_before_exit(repo, tmp_path):
  script = tmp_path / "stream.py"
  script.write_text(_SHM_SCRIPT)
  env = dict(os.environ, PYTHONPATH=str(repo))
  for _ in range(2):
    proc = subprocess.run([sys.executable, str(script), "close_stream"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr
    assert "leaked shared_memory" not in proc.stderr, proc.stderr


def test_hparams_hold_every_config_key_and_the_final_metrics(trained_workdir):
  config = config_base.load(str(trained_workdir))
  values = hparams.hparam_values(config)
  assert values["model.base_channels"] == 4 and isinstance(values["balance.weight_bounds"], str)
  final = json.load(open(trained_workdir / "eval" / "final.json"))
  metrics = hparams.metric_values(str(trained_workdir), final)
  assert metrics["hparams/test_f1"] == pytest.approx(final["f1"]) and "hparams/best_val_f1" in metrics
  folder = trained_workdir / "tensorboard" / hparams.RUN_NAME
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(folder))
  tags = {}                              # tag -> plugin of every summary value in the event files
  for name in os.listdir(folder):
    for event in _events(folder / name):
      for value in event.summary.value:
        tags[value.tag] = value.metadata.plugin_data.plugin_name
  assert tags.get("_hparams_/experiment") == "hparams" and tags.get("_hparams_/session_start_info") == "hparams"
  assert "hparams/test_f1" in tags


def _events(path):
  """The `Event` protos of a TensorBoard event file (TFRecord framing: length, crc, data, crc)."""
  import struct  # noqa: PLC0415
  from tensorboardX.proto import event_pb2  # noqa: PLC0415
  data = path.read_bytes()
  pos = 0
  while pos < len(data):
    (length,) = struct.unpack("<Q", data[pos:pos + 8])
    yield event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
    pos += 12 + length + 4

"""`crackjax.evaluate` on a trained smoke run: files, conventions, checkpoint choice, agreement with the
trainer's final evaluation and with an independent scikit-learn computation on the same predictions."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import average_precision_score
from sklearn.metrics import precision_recall_fscore_support

from crackjax import config_base
from crackjax import errors
from crackjax.data import sources
from crackjax.evaluation import evaluate_run
from crackjax.inference import restored_run
from crackjax.training import metric_writer
from crackjax.training import parallel


_META = {"split", "checkpoint_step", "selected_by", "workdir", "dataset", "config_overrides",
         "seconds", "pr_curve", "conventions"}


@pytest.fixture(scope="module")
def test_report(trained_workdir):
  return evaluate_run.evaluate(str(trained_workdir), "test", progress_bar=False)


def test_writes_json_csv_and_pr_curve_with_every_metric_explained(trained_workdir, test_report):
  eval_dir = trained_workdir / "eval"
  with open(eval_dir / "test.json") as f:
    saved = json.load(f)
  assert saved["f1"] == test_report["f1"]
  for key in ("precision", "recall", "f1", "iou", "miou_2class_pooled", "ods_f1_pooled_grid100",
              "ois_f1_mean_per_image_grid100", "ap_pooled_stepwise_grid100", "relaxed_f1_r2px_pooled",
              "relaxed_f1_r5px_pooled", "relaxed_precision_r2px_pooled", "relaxed_recall_r5px_pooled",
              "cldice_pooled"):
    assert 0.0 <= saved[key] <= 1.0, key
  missing = [k for k in saved if k not in saved["conventions"] and k not in _META]
  assert not missing, f"metrics without a stated convention: {missing}"
  assert saved["split"] == "test" and saved["images"] == 2
  assert len(saved["pr_curve"]["threshold"]) == 101

  with open(eval_dir / "test_per_image.csv") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 2 and all(r["stem"].startswith("synthetic_") for r in rows)
  assert {"f1", "best_f1_grid100", "relaxed_f1_r2px", "cldice"} <= set(rows[0])
  assert (eval_dir / "pr_curve.png").stat().st_size > 10_000


def test_picks_the_best_validated_checkpoint_and_matches_the_trainers_final_evaluation(
    trained_workdir, test_report):
  # The smoke run validates at steps 6 and 12; the best of the kept, validated checkpoints wins.
  val = {e["step"]: e["val/f1"] for e in metric_writer.read(str(trained_workdir)) if "val/f1" in e}
  kept = {int(s) for s in os.listdir(trained_workdir / "checkpoints") if s.isdigit()}
  best = max((f1, s) for s, f1 in val.items() if s in kept)[1]
  assert test_report["selected_by"] == "val/f1"
  assert test_report["checkpoint_step"] == best

  with open(trained_workdir / "eval" / "final.json") as f:
    final = json.load(f)
  assert final["checkpoint_step"] == best
  for key in ("precision", "recall", "f1", "iou", "tp", "fp", "fn", "ods_f1_pooled_grid100",
              "ap_pooled_stepwise_grid100", "relaxed_f1_r5px_pooled", "cldice_pooled"):
    assert test_report[key] == pytest.approx(final[key], rel=1e-6, abs=1e-9), key


def test_agrees_with_scikit_learn_on_the_same_predictions(trained_workdir, test_report):
  """Independent path: restore, predict each full image ourselves (padded as the evaluation does),
  score with scikit-learn."""
  config = config_base.load(str(trained_workdir))
  restored = restored_run.restore(str(trained_workdir), config, test_report["checkpoint_step"])
  source = sources.split_source(sources.get_builder(config.data), "test")
  probs, truth = [], []
  for i in range(len(source)):
    ex = source[i]
    image, mask = ex["image"], ex["mask"][..., 0]
    h, w = mask.shape
    m = config.eval.pad_multiple
    padded = np.pad(image, ((0, -h % m), (0, -w % m), (0, 0)), mode="symmetric")
    batch = np.zeros((4,) + padded.shape, np.uint8)  # 4 = the test session's device count
    batch[0] = padded
    out = restored.predict(restored.state, parallel.to_global({"x": batch}, restored.batch_sharding)["x"])
    probs.append(np.asarray(out)[0, :h, :w].ravel())
    truth.append(mask.ravel())
  p, t = np.concatenate(probs), np.concatenate(truth)
  prec, rec, f1, _ = precision_recall_fscore_support(t, p >= 0.5, average="binary", zero_division=1.0)
  assert test_report["precision"] == pytest.approx(prec, abs=1e-6)
  assert test_report["recall"] == pytest.approx(rec, abs=1e-6)
  assert test_report["f1"] == pytest.approx(f1, abs=1e-6)
  # AP on the grid-quantised scores (the convention of ap_pooled_stepwise_grid100).
  s = np.floor(p.astype(np.float64) * 100 + 1e-9) / 100
  assert test_report["ap_pooled_stepwise_grid100"] == pytest.approx(average_precision_score(t, s), abs=1e-6)


def test_a_given_checkpoint_step_and_bad_requests(trained_workdir):
  kept = sorted(int(s) for s in os.listdir(trained_workdir / "checkpoints") if s.isdigit())
  report = evaluate_run.evaluate(str(trained_workdir), "val", checkpoint_step=kept[0], progress_bar=False)
  assert report["checkpoint_step"] == kept[0] and report["selected_by"] == "--checkpoint_step"
  assert (trained_workdir / "eval" / "val.json").exists()
  with pytest.raises(ValueError, match=r"holds steps"):
    evaluate_run.evaluate(str(trained_workdir), "test", checkpoint_step=999, progress_bar=False)
  with pytest.raises(ValueError, match=r"config.eval.threshold=0.555"):
    evaluate_run.evaluate(str(trained_workdir), "test", overrides={"eval.threshold": 0.555},
                      progress_bar=False)
  with pytest.raises(ValueError, match=r"model.base_channels"):
    evaluate_run.evaluate(str(trained_workdir), "test", overrides={"model.base_channels": 8},
                      progress_bar=False)
  with pytest.raises(ValueError, match=r"no split 'train2'"):
    evaluate_run.evaluate(str(trained_workdir), "train2", progress_bar=False)
  with pytest.raises(FileNotFoundError, match=r"crackjax training workdir"):
    evaluate_run.evaluate(str(trained_workdir / "nothing_here"), progress_bar=False)


def test_command_line(repo, trained_workdir):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu")
  cmd = [sys.executable, "-m", "crackjax.evaluate", "--workdir", str(trained_workdir), "--split", "val",
         "--config.eval.batch_size=1", "--config.eval.threshold=0.3", "--noprogress_bar"]
  proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  with open(trained_workdir / "eval" / "val.json") as f:
    val = json.load(f)
  assert val["threshold"] == 0.3 and val["config_overrides"] == {"eval.batch_size": 1, "eval.threshold": 0.3}
  assert "ods_f1_pooled_grid100" in proc.stderr  # the summary line

  proc = subprocess.run(cmd[:5] + ["--config.eval.treshold=0.3"], cwd=repo, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode != 0 and "eval.treshold" in proc.stdout + proc.stderr


def test_a_dataset_with_bad_pairs_is_evaluated_on_the_good_ones_and_the_bad_are_listed(
    trained_workdir, tmp_path):
  """Cross-dataset evaluation on a folder with a truncated image: the good test pairs are scored, the
  bad one is named in the log, in the report and in the error that ends the command."""
  import shutil
  from tests.test_builders import _pair, _splits_csv
  workdir = tmp_path / "run"                       # a copy: this test writes eval/test.json
  shutil.copytree(trained_workdir, workdir)
  root = tmp_path / "folder"
  rows = [("t0", "train"), ("g1", "test"), ("g2", "test"), ("bad", "test")]
  for i, (stem, _) in enumerate(rows):
    _pair(root, f"images/{stem}.png", f"masks/{stem}.png", i, h=64, w=96)
  _splits_csv(root, rows)
  data = (root / "images/bad.png").read_bytes()
  (root / "images/bad.png").write_bytes(data[:len(data) // 2])
  overrides = {"data.name": "crack_folder", "data.manual_dir": str(root), "data.tfds_dir": str(tmp_path / "tfds")}
  with pytest.raises(errors.SkippedInputsError, match=r"1 bad image/mask pair\(s\) of .*folder were left out "
                     r"of this evaluation \(bad;.*skip_bad_pairs=true") as e:
    evaluate_run.evaluate(str(workdir), "test", overrides=overrides, progress_bar=False)
  report = e.value.result
  assert report["images"] == 2 and report["skipped_pairs"][0].startswith("bad: images/bad.png: unreadable")
  with open(workdir / "eval" / "test.json") as f:
    assert json.load(f)["skipped_pairs"] == report["skipped_pairs"]
  # Accepted explicitly, the same evaluation ends without an error.
  accepted = evaluate_run.evaluate(str(workdir), "test", overrides={**overrides, "data.skip_bad_pairs": True},
                                   progress_bar=False)
  assert accepted["images"] == 2

"""The console scripts of pyproject.toml, run from the environment's bin folder as a user runs them:
crackjax-train, crackjax-evaluate, crackjax-predict (--list_models, --model, a per-image mm CSV)
(crackjax-export: tests/test_export.py)."""

import csv
import json
import os
import subprocess
import sys

import PIL.Image
import pytest

from crackjax.data import synthetic

BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu")


def _script(name, *args, cwd, timeout=600):
  proc = subprocess.run([os.path.join(BIN, name), *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                        text=True, timeout=timeout)
  return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["crackjax-train", "crackjax-evaluate", "crackjax-predict", "crackjax-export"])
def test_console_scripts_are_installed(name):
  assert os.access(os.path.join(BIN, name), os.X_OK), f"{name} is not in {BIN}: pip install -e ."


def test_train_then_evaluate(repo, tmp_path, tfds_dir):
  wd = tmp_path / "run"
  rc, out = _script("crackjax-train", "--config", repo / "configs" / "smoke.py", "--workdir", wd,
                    f"--config.data.tfds_dir={tfds_dir}", "--config.total_steps=4", "--config.eval_every=4",
                    "--config.progress_bar=false", cwd=repo)
  assert rc == 0, out
  assert "step 4/4 (100%)" in out and "validation at step 4" in out and (wd / "report.html").exists()
  rc, out = _script("crackjax-evaluate", "--workdir", wd, "--split", "val", "--noprogress_bar", cwd=repo)
  assert rc == 0, out
  assert json.load(open(wd / "eval" / "val.json"))["checkpoint_step"] == 4


def test_predict_lists_and_runs_a_shipped_model_with_a_per_image_mm_csv(repo, tmp_path):
  rc, out = _script("crackjax-predict", "--list_models", cwd=repo)
  assert rc == 0 and "unet_crack500" in out, out
  src = tmp_path / "in"
  src.mkdir()
  for i in range(3):
    image, _ = synthetic.generate(0, 30 + i, synthetic.SyntheticSpec(height=128, width=192))
    PIL.Image.fromarray(image).save(src / f"img_{i}.png")
  table = tmp_path / "gsd.csv"
  table.write_text("stem,mm_per_pixel\nimg_0,0.5\nimg_1,2\n")     # img_2 has no row: pixels only
  out_dir = tmp_path / "out"
  rc, out = _script("crackjax-predict", "--model", "unet_crack500", "--input", src, "--output", out_dir,
                    "--mm_per_pixel", table, "--noprogress_bar", cwd=repo)
  assert rc == 0, out
  assert "no row in the --mm_per_pixel CSV" in out and "img_2" in out
  with open(out_dir / "summary.csv") as f:
    rows = {os.path.basename(r["input"]): r for r in csv.DictReader(f)}
  assert [rows[f"img_{i}.png"]["mm_per_pixel"] for i in range(3)] == ["0.5", "2.0", ""]
  assert (out_dir / "report.html").exists() and (out_dir / "img_0_overlay_small.jpg").exists()
  table.write_text("stem,mm\nimg_0,0.5\n")
  rc, out = _script("crackjax-predict", "--model", "unet_crack500", "--input", src, "--output", out_dir,
                    "--mm_per_pixel", table, cwd=repo)
  assert rc == 2 and "header 'stem,mm_per_pixel'" in out and str(table) in out, out
  rc, out = _script("crackjax-predict", "--model", "no_such_model", "--input", src, "--output", out_dir, cwd=repo)
  assert rc == 2 and "no shipped model named 'no_such_model'" in out, out


def test_evaluate_scores_a_shipped_model_on_a_folder_and_writes_only_to_output(repo, tmp_path):
  from crackjax import pretrained  # noqa: PLC0415
  from tests.test_builders import _pair, _splits_csv  # noqa: PLC0415
  data = tmp_path / "mine"
  rows = [("a", "train"), ("b", "test"), ("c", "test")]
  for i, (stem, _) in enumerate(rows):
    _pair(data, f"images/{stem}.png", f"masks/{stem}.png", i, h=96, w=128)
  _splits_csv(data, rows)
  package_files = sorted(os.listdir(pretrained.folder("unet_crack500")))
  common = ["--model", "unet_crack500", "--noprogress_bar", f"--config.data.manual_dir={data}",
            f"--config.data.tfds_dir={tmp_path / 'tfds'}"]
  rc, out = _script("crackjax-evaluate", *common, cwd=repo)
  assert rc == 2 and "needs --output DIR" in out and "Traceback" not in out, out
  rc, out = _script("crackjax-evaluate", *common, "--output", tmp_path / "scores", cwd=repo)
  assert rc == 0, out
  report = json.load(open(tmp_path / "scores" / "test.json"))
  assert report["images"] == 2 and report["dataset"]["name"] == "crack_folder"
  assert (tmp_path / "scores" / "test_per_image.csv").exists()
  assert sorted(os.listdir(pretrained.folder("unet_crack500"))) == package_files   # nothing written there

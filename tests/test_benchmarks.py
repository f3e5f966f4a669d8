"""The speed benchmarks still run (tiny sizes; the numbers mean nothing here, docs/performance.md has them)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _run(repo, *args):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  return proc.stdout


def test_train_throughput_prints_its_table(repo, tmp_path):
  out = _run(repo, "benchmarks/train_throughput.py", "--contenders", "crackjax,flax", "--size", "32",
             "--base", "4", "--rounds", "1", "--steps", "1", "--warmup", "1",
             "--json", str(tmp_path / "t.json"))
  assert "| crackjax |" in out and "| flax |" in out and "GFLOP" in out
  result = json.load(open(tmp_path / "t.json"))
  assert result["info"]["step_gflop"] > 0 and set(result["median_s"]) == {"crackjax", "flax"}


def test_gpu_step_runs_on_cpu(repo, tmp_path):
  out = _run(repo, "benchmarks/gpu_step.py", "--models", "unet", "--dtypes", "float32", "--batch", "4",
             "--size", "32", "--steps", "1", "--warmup", "1", "--json", str(tmp_path / "g.json"))
  assert "| unet | float32 |" in out
  (row,) = json.load(open(tmp_path / "g.json"))["rows"]
  assert row["loss_finite"] and row["step_tflop"] > 0


def test_conv_layers_prints_its_table(repo, tmp_path):
  out = _run(repo, "benchmarks/conv_layers.py", "--contenders", "xla", "--size", "16", "--base", "2",
             "--depth", "2", "--reps", "1", "--sgemm_size", "64", "--json", str(tmp_path / "c.json"))
  assert "| 16^2 3->2 |" in out and "| total |" in out and "xla: all three" in out
  result = json.load(open(tmp_path / "c.json"))
  assert len(result["rows"]) == 10 and all(t > 0 for t in result["totals_s"]["xla"])
  assert set(result["sgemm_gflops"]) == {"numpy", "xla"} and "matrix product" in out


def test_profile_step_prints_thunk_kinds(repo):
  out = _run(repo, "benchmarks/profile_step.py", "--size", "32", "--base", "2", "--steps", "1",
             "--warmup", "1", "--top", "50")
  assert "| thunk kind | ms per step |" in out and "| convolution |" in out


def test_cpu_formulations_prints_both_tables(repo):
  out = _run(repo, "benchmarks/cpu_formulations.py", "--size", "16", "--base", "2", "--depth", "2",
             "--reps", "1", "--rounds", "1", "--steps", "1", "--warmup", "1")
  for row in ("| batch_norm | all levels |", "| max_pool | all levels |", "| conv_transpose | all levels |",
              "| all formulations |", "| batch_norm standard |", "| all standard |"):
    assert row in out, row

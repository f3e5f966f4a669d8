"""End-to-end runs of `python -m crackjax.main` on configs/smoke.py (subprocesses, CPU)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from crackjax.training import metric_writer


pytestmark = pytest.mark.slow


def _main(repo, workdir, tfds_dir, *overrides, devices=1, wait=True):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             JAX_PLATFORMS="cpu")
  cmd = [sys.executable, "-m", "crackjax.main", "--config", str(repo / "configs" / "smoke.py"),
         "--workdir", str(workdir), f"--config.data.tfds_dir={tfds_dir}",
         "--config.progress_bar=False", *overrides]
  # Unwaited runs get their own process group, so that a test can kill the whole job at once, as a
  # preempted machine does (killing the trainer alone also ends its Grain workers: tests/test_faults.py).
  proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, start_new_session=not wait)
  if not wait:
    return proc
  out, _ = proc.communicate(timeout=600)
  return proc.returncode, out


def _kill_job_sparing_its_resource_tracker(pgid: int) -> None:
  """SIGKILL every process of the job's group at once, as a preempted machine ends them, except Python's
  resource tracker: on a real machine the workers' shared memory goes with the machine, here the
  tracker must live to unlink it (a group SIGKILL left ~100 segments in /dev/shm per test run)."""
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/stat") as f:
        group = int(f.read().rsplit(")", 1)[1].split()[2])
      with open(f"/proc/{entry}/cmdline", "rb") as f:
        tracker = b"resource_tracker" in f.read()
    except OSError:
      continue
    if group == pgid and not tracker:
      try:
        os.kill(int(entry), signal.SIGKILL)
      except ProcessLookupError:
        pass


def _final(workdir):
  with open(workdir / "eval" / "final.json") as f:
    return json.load(f)


def test_smoke_run_writes_metrics_checkpoints_and_final_eval(repo, tmp_path, tfds_dir):
  wd = tmp_path / "run"
  rc, out = _main(repo, wd, tfds_dir)
  assert rc == 0, out
  events = metric_writer.read(str(wd))
  keys = set().union(*events)
  for k in ("train/loss", "train/precision", "train/recall", "train/f1", "val/f1", "balance/prf",
            "balance/pos_weight", "balance/neg_weight", "balance/pos_rate", "data/pos_fraction",
            "data/expected_pos_fraction",
            "test/f1"):
    assert k in keys, k
  assert [e["step"] for e in events] == sorted(e["step"] for e in events)
  final = _final(wd)
  for k in ("precision", "recall", "f1", "iou"):
    assert 0.0 <= final[k] <= 1.0
  assert final["images"] == 2 and final["total_steps"] == 12
  assert os.listdir(wd / "tensorboard")
  assert (wd / "prf_trajectory.png").stat().st_size > 10_000
  assert json.load(open(wd / "config.json"))["model"]["base_channels"] == 4
  # The log talks (a line per log interval and per validation) without the bar, quietly: the config as
  # its diff from base(), no known library noise; the report and the hparams are written.
  assert "step 12/12 (100%): loss" in out and "validation at step 12: P" in out, out
  assert "model.base_channels: 4 (default 16)" in out and "focal_gamma" not in out, out
  for noise in ("Using custom data configuration", "OpenCV is not installed", "tracked_metric", "read only",
                "leaked shared_memory"):
    assert noise not in out, noise
  assert (wd / "report.html").stat().st_size > 50_000 and (wd / "tensorboard" / "hparams").is_dir()

  # A finished run exits at once, saying so, and computes nothing again.
  before = (wd / "metrics.jsonl").read_bytes(), (wd / "eval" / "final.json").stat().st_mtime_ns
  rc, out = _main(repo, wd, tfds_dir)
  assert rc == 0 and "complete" in out, out
  assert ((wd / "metrics.jsonl").read_bytes(), (wd / "eval" / "final.json").stat().st_mtime_ns) == before

  # An incompatible config refuses to resume and says how to start fresh.
  rc, out = _main(repo, wd, tfds_dir, "--config.model.base_channels=8")
  assert rc != 0 and "model.base_channels" in out and "--workdir" in out, out


def test_bad_config_keys_fail_at_start_naming_the_key(repo, tmp_path, tfds_dir):
  rc, out = _main(repo, tmp_path / "a", tfds_dir, "--config.modle.depth=3")
  assert rc != 0 and "modle.depth" in out
  rc, out = _main(repo, tmp_path / "b", tfds_dir, "--config.batch_size=four")
  assert rc != 0 and "config.batch_size" in out


def test_final_split_val_scores_the_best_checkpoint_on_val_and_never_reads_test(repo, tmp_path, tfds_dir):
  """eval.final_split=val (tuning) ends with the val split, and logs no test/* metric."""
  wd = tmp_path / "tune"
  rc, out = _main(repo, wd, tfds_dir, "--config.eval.final_split=val")
  assert rc == 0, out
  final = _final(wd)
  assert final["split"] == "val" and final["selected_by"] == "val/f1"
  events = metric_writer.read(str(wd))
  best = max((e for e in events if "val/f1" in e), key=lambda e: e["val/f1"])
  assert final["f1"] == pytest.approx(best["val/f1"], abs=1e-6)
  keys = set().union(*events)
  assert "final_val/f1" in keys and not any(k.startswith("test/") for k in keys)

  rc, out = _main(repo, tmp_path / "bad", tfds_dir, "--config.eval.final_split=train")
  assert rc != 0 and "config.eval.final_split='train'" in out, out


def test_killed_and_resumed_run_ends_with_the_same_final_metrics(repo, tmp_path, tfds_dir):
  steps = ["--config.total_steps=30", "--config.checkpoint_every=4"]
  rc, out = _main(repo, tmp_path / "straight", tfds_dir, *steps)
  assert rc == 0, out

  wd = tmp_path / "killed"
  proc = _main(repo, wd, tfds_dir, *steps, "--config.data.num_workers=2", wait=False)
  deadline = time.time() + 300
  while time.time() < deadline:
    done = os.listdir(wd / "checkpoints") if (wd / "checkpoints").exists() else []
    if any(p.isdigit() and 8 <= int(p) < 30 for p in done):
      break
    time.sleep(0.05)
  _kill_job_sparing_its_resource_tracker(proc.pid)   # the job dies at once, as on a preempted machine
  proc.wait()
  assert not (wd / "eval" / "final.json").exists(), "the run finished before it could be killed"

  rc, out = _main(repo, wd, tfds_dir, *steps, "--config.data.num_workers=2")
  assert rc == 0 and "Resuming from the checkpoint at step" in out, out
  a, b = _final(tmp_path / "straight"), _final(wd)
  for k in ("precision", "recall", "f1", "iou", "tp", "fp", "fn", "checkpoint_step"):
    assert a[k] == pytest.approx(b[k], rel=1e-6), k
  la = {e["step"]: e["train/loss"] for e in metric_writer.read(str(tmp_path / "straight")) if "train/loss" in e}
  lb = {e["step"]: e["train/loss"] for e in metric_writer.read(str(wd)) if "train/loss" in e}
  assert la.keys() == lb.keys()
  np.testing.assert_allclose([la[s] for s in la], [lb[s] for s in la], rtol=1e-5)


def test_one_and_four_devices_log_the_same_train_loss(repo, tmp_path, tfds_dir):
  runs = {}
  for n in (1, 4):
    rc, out = _main(repo, tmp_path / f"d{n}", tfds_dir, devices=n)
    assert rc == 0, out
    assert f"{n} devices" in out
    runs[n] = {e["step"]: e["train/loss"] for e in metric_writer.read(str(tmp_path / f"d{n}"))
               if "train/loss" in e}
  assert runs[1].keys() == runs[4].keys()
  for s in runs[1]:
    assert abs(runs[1][s] - runs[4][s]) <= 1e-3 * abs(runs[1][s]), (s, runs[1][s], runs[4][s])

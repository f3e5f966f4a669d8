"""Faults an operator meets (docs/reliability.md): a full disk, a diverged run, a killed trainer, two
trainers on one workdir, data changed under a run, a preemption (SIGTERM). Each must end at once with one clear line, lose
nothing that was finished, and leave nothing running."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from crackjax import errors
from crackjax import json_file
from crackjax.report import plots
from crackjax.training import checkpoints
from crackjax.training import metric_writer
from crackjax.training import preemption
from crackjax.training import step as step_lib
from crackjax.training import train
from crackjax.training import workdir as workdir_lib


def _env(devices: int = 1) -> dict:
  return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
              JAX_PLATFORMS="cpu")


def _trainer(repo, workdir, tfds_dir, *overrides, prefix=()) -> list[str]:
  """The command line of a smoke training run (`prefix`: what runs it, e.g. the fault injector)."""
  return [*(prefix or [sys.executable, "-m"]), "crackjax.main", "--config",
          str(repo / "configs" / "smoke.py"), "--workdir", str(workdir),
          f"--config.data.tfds_dir={tfds_dir}", "--config.progress_bar=False", *overrides]


def _user_error_line(stderr: str) -> str:
  """The one `crackjax:` line a user error ends with; no traceback."""
  assert "Traceback" not in stderr, stderr[-3000:]
  lines = [l for l in stderr.splitlines() if l.startswith("crackjax:")]
  assert len(lines) == 1 and stderr.rstrip().endswith(lines[0]), stderr[-3000:]
  return lines[0]


# ------------------------------------------------------------------------------------------------
# A full disk.
# ------------------------------------------------------------------------------------------------


def _mount_namespace_works() -> str:
  """'' if `unshare -rm` can mount a tmpfs here (a user + mount namespace, no root needed), else why not."""
  if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
    return "needs Linux with unshare(1)"
  probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                         capture_output=True, text=True)
  if probe.returncode:
    return f"cannot mount a tmpfs in a user+mount namespace here: {probe.stderr.strip()}"
  return ""


_NO_MOUNT = _mount_namespace_works()


@pytest.mark.slow
@pytest.mark.skipif(bool(_NO_MOUNT), reason=_NO_MOUNT or "mounting works")
def test_a_full_disk_stops_training_at_once_and_the_rerun_resumes(repo, tmp_path, tfds_dir):
  """A real 450 KB file system: the run fails on the first write that does not fit (metrics,
  TensorBoard or a checkpoint, whichever comes first), promptly and naming the path; the last finished
  checkpoint stays intact, and after space is freed the same command resumes from it and finishes."""
  mnt, out = tmp_path / "mnt", tmp_path / "out"
  mnt.mkdir()
  out.mkdir()
  run = " ".join(_trainer(repo, mnt / "run", tfds_dir, "--config.total_steps=30", "--config.eval_every=0",
                          "--config.checkpoint_every=2"))
  script = f"""
mount -t tmpfs -o size=450k tmpfs {mnt} || exit 99
start=$(date +%s)
timeout 300 {run} >{out}/1.out 2>{out}/1.err; echo $? >{out}/1.rc
echo $(( $(date +%s) - start )) >{out}/1.seconds
ls {mnt}/run/checkpoints >{out}/checkpoints_after_failure
mount -o remount,size=64m {mnt}
timeout 300 {run} >{out}/2.out 2>{out}/2.err; echo $? >{out}/2.rc
cp {mnt}/run/eval/final.json {out}/ 2>/dev/null
"""
  subprocess.run(["unshare", "-rm", "sh", "-c", script], env=_env(), cwd=repo, timeout=900, check=True)
  read = lambda name: (out / name).read_text()
  assert read("1.rc").strip() == "2", read("1.err")[-3000:]
  line = _user_error_line(read("1.err"))
  assert "no space left on the device while writing " + str(mnt / "run") in line, line
  assert int(read("1.seconds")) < 240      # it ended; a hang would run into the timeout (rc 124)
  finished = sorted(int(s) for s in read("checkpoints_after_failure").split() if s.isdigit())
  assert finished, "the disk filled before the first checkpoint: enlarge the file system of the test"
  assert read("2.rc").strip() == "0", read("2.err")[-3000:]
  assert f"Resuming from the checkpoint at step {finished[-1]}" in read("2.err")
  assert json.loads(read("final.json"))["total_steps"] == 30


@pytest.mark.slow
def test_a_full_disk_under_metrics_jsonl_ends_the_run_at_once_with_one_line(repo, tmp_path, tfds_dir):
  """Simulated where no file system can be mounted (tests/fault_injection.py): the 3rd metrics row
  fails with ENOSPC; the trainer exits 2 naming the file, and the rows before it stay readable."""
  wd = tmp_path / "run"
  cmd = _trainer(repo, wd, tfds_dir, prefix=[sys.executable, str(repo / "tests" / "fault_injection.py"),
                                              "metrics.jsonl", "2", "-m"])
  t0 = time.time()
  proc = subprocess.run(cmd, env=_env(), cwd=repo, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr[-3000:]
  line = _user_error_line(proc.stderr)
  assert f"no space left on the device while writing {wd / 'metrics.jsonl'}" in line, line
  assert time.time() - t0 < 240
  assert [e["step"] for e in metric_writer.read(str(wd))] == [2, 3]   # whole rows, none cut short
  assert (wd / "metrics.jsonl").read_text().endswith("\n")


def _failing_writes(monkeypatch, target: str, module, name: str = "open"):
  """Makes `module.<name>` (open-like) fail with ENOSPC for paths containing `target`."""
  real = getattr(module, name)

  def fake(file, *args, **kwargs):
    if target in os.fspath(file):
      raise OSError(errno.ENOSPC, "No space left on device", os.fspath(file))
    return real(file, *args, **kwargs)
  monkeypatch.setattr(module, name, fake)


def test_tensorboard_on_a_full_disk_fails_at_once_instead_of_hanging(tmp_path, monkeypatch):
  """The events are written and flushed in the calling thread: ENOSPC is raised by `write`, naming
  the folder (tensorboardX's SummaryWriter lost it in its writer thread and later hung on its queue)."""
  writer = metric_writer.MetricWriter(str(tmp_path))
  writer.write(1, {"train/loss": 0.5})
  events = os.listdir(tmp_path / "tensorboard")
  assert len(events) == 1 and os.path.getsize(tmp_path / "tensorboard" / events[0]) > 0

  class Full:
    def write(self, data):
      raise OSError(errno.ENOSPC, "No space left on device")
  monkeypatch.setattr(writer._tb._py_recordio_writer, "_writer", Full())
  done = []
  thread = threading.Thread(target=lambda: done.append(_raises(lambda: writer.write(2, {"x": 1.0}))))
  thread.start()
  thread.join(timeout=30)
  assert not thread.is_alive(), "the write hung"
  assert isinstance(done[0], errors.DiskFullError) and str(tmp_path / "tensorboard") in str(done[0])
  assert [e["step"] for e in metric_writer.read(str(tmp_path))] == [1, 2]


def _raises(fn):
  try:
    fn()
  except BaseException as e:  # noqa: BLE001
    return e
  return None


def test_json_results_and_plots_on_a_full_disk_name_the_path_and_keep_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "eval" / "final.json"
  json_file.write(str(path), {"f1": 0.5})
  _failing_writes(monkeypatch, "final.json", __import__("builtins"))
  with pytest.raises(errors.DiskFullError, match=f"while writing {path}"):
    json_file.write(str(path), {"f1": 0.7})
  monkeypatch.undo()
  assert json.loads(path.read_text()) == {"f1": 0.5} and os.listdir(path.parent) == ["final.json"]
  _failing_writes(monkeypatch, "prf.png", __import__("builtins"))
  with pytest.raises(errors.DiskFullError, match="prf.png"):
    plots.prf_trajectory([{"step": 1, "balance/precision": 0.5, "balance/recall": 0.4}],
                         str(tmp_path / "prf.png"))


def test_a_failed_checkpoint_save_names_its_folder_and_keeps_the_previous_one(tmp_path, monkeypatch):
  """The synchronous part of a save (Grain's iterator state is written there) fails on a full disk:
  DiskFullError naming the step's folder; the previous checkpoint stays and restores."""
  import grain
  ckpt = checkpoints.Checkpointer(str(tmp_path / "checkpoints"))
  state = {"w": jnp.arange(4.0)}
  it = iter(grain.MapDataset.range(10).to_iter_dataset())
  ckpt.save(1, state, it)
  ckpt.wait()
  next(it)
  _failing_writes(monkeypatch, "process_0-of-1.json", __import__("builtins"))
  with pytest.raises(errors.DiskFullError, match=str(tmp_path / "checkpoints" / "2")):
    ckpt.save(2, state, it)
    ckpt.wait()
  monkeypatch.undo()
  ckpt.finish_quietly()
  again = checkpoints.Checkpointer(str(tmp_path / "checkpoints"))
  assert again.latest_step() == 1
  np.testing.assert_array_equal(again.restore(1, state)["w"], np.arange(4.0))
  again.close()


def test_is_disk_full_reads_tensorstores_message():
  e = ValueError('RESOURCE_EXHAUSTED: Error writing local file "/w/checkpoints/6/state/_sharding": '
                 'Failed to write 611 bytes to file 9: No space left on device [os_error_code=\'28\']')
  assert errors.is_disk_full(e)
  with pytest.raises(errors.DiskFullError, match="/w/checkpoints/6"):
    with errors.writing("/w/checkpoints/6"):
      raise e


# ------------------------------------------------------------------------------------------------
# A diverged run.
# ------------------------------------------------------------------------------------------------


def test_nan_stops_the_run_naming_the_first_bad_step_and_never_reaches_a_checkpoint(
    tmp_path, smoke_config, monkeypatch):
  """The parameters turn NaN before step 5 (as on divergence). Checkpoints every 3 steps, logs every 4
  (the log alone would first look at step 8, after a NaN save at 6): the in-graph flag, read before
  the save at 6, stops the run naming step 5; the checkpoint of step 3 is the latest and is finite."""
  real_step = step_lib.train_step

  def poisoned(state, batch, **kwargs):
    nan = state.step >= 4
    state = state.replace(params=jax.tree.map(lambda p: jnp.where(nan, jnp.nan, p), state.params))
    return real_step(state, batch, **kwargs)
  monkeypatch.setattr(step_lib, "train_step", poisoned)
  config = smoke_config.copy_and_resolve_references()
  config.checkpoint_every, config.log_every, config.eval_every = 3, 4, 0
  wd = tmp_path / "run"
  with pytest.raises(train.NonFiniteError, match=r"at step 5, the first such step.*last good checkpoint "
                     r"is step 3"):
    train.train_and_evaluate(config, str(wd))
  ckpt = checkpoints.Checkpointer(str(wd / "checkpoints"), read_only=True)
  assert sorted(ckpt.manager.all_steps()) == [3]
  restored = ckpt.manager.restore(3, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
  assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(restored["params"]))
  ckpt.close()
  assert [e["step"] for e in metric_writer.read(str(wd)) if "train/loss" in e] == [4]


def test_the_step_reports_whether_loss_and_gradients_are_finite():
  sq = lambda *gs: sum(jnp.sum(g * g) for g in gs)      # as the step computes it
  assert float(step_lib.all_finite(jnp.float32(1.0), sq(jnp.ones(3), jnp.zeros((2, 2))))) == 1.0
  assert float(step_lib.all_finite(jnp.float32(jnp.nan), sq(jnp.ones(3)))) == 0.0
  for bad in (jnp.inf, -jnp.inf, jnp.nan):
    assert float(step_lib.all_finite(jnp.float32(1.0), sq(jnp.ones(3), jnp.array([1.0, bad])))) == 0.0


# ------------------------------------------------------------------------------------------------
# A killed trainer leaves no worker behind.
# ------------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
  """Processes whose parent is `pid` (from /proc)."""
  out = []
  for entry in os.listdir("/proc"):
    if entry.isdigit():
      try:
        with open(f"/proc/{entry}/stat") as f:
          fields = f.read().rsplit(")", 1)[1].split()
      except OSError:
        continue
      if int(fields[1]) == pid:
        out.append(int(entry))
  return out


def _signals(pid: int, field: str) -> set[int]:
  """The signals of `field` (`SigBlk`: blocked, `SigIgn`: ignored) of process `pid`'s main thread."""
  with open(f"/proc/{pid}/status") as f:
    mask = int(next(l for l in f if l.startswith(f"{field}:")).split()[1], 16)
  return {n for n in range(1, 65) if mask >> (n - 1) & 1}


def _alive(pid: int) -> bool:
  """Running (a zombie waiting for init to reap it counts as ended)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except OSError:
    return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the workers in /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_trainer_ends_its_data_workers(repo, tmp_path, tfds_dir, sig):
  cmd = _trainer(repo, tmp_path / "run", tfds_dir, "--config.total_steps=100000",
                 "--config.data.num_workers=2", "--config.checkpoint_every=0", "--config.eval_every=0")
  proc = subprocess.Popen(cmd, env=_env(), cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          start_new_session=True)
  try:
    deadline, workers = time.time() + 300, []
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
      time.sleep(0.2)
      workers = [p for p in _children(proc.pid) if "grain" in _cmdline(p) or "multiprocessing" in _cmdline(p)]
    assert len(workers) >= 2, f"no workers started: {proc.poll()} {proc.stderr.read()[-3000:] if proc.poll() else ''}"
    time.sleep(1.0)
    everyone = _children(proc.pid)
    os.kill(proc.pid, sig)                 # the trainer alone, not its process group
    proc.wait(timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in everyone):
      time.sleep(0.1)
    assert not [p for p in everyone if _alive(p)], [_cmdline(p) for p in everyone if _alive(p)]
  finally:
    try:
      os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
      pass
    proc.stderr.close()


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the workers in /proc (Linux)")
@pytest.mark.parametrize("sig,whom", [("SIGTERM", "trainer"), ("SIGTERM", "process group"),
                                      ("SIGINT", "process group")])
def test_a_stop_signal_stops_at_the_next_step_with_a_checkpoint_and_the_rerun_resumes(
    repo, tmp_path, tfds_dir, sig, whom):
  """A preemption (SIGTERM) or a Ctrl-C (SIGINT) mid-run: the trainer checkpoints the step it is at (no
  periodic checkpoint is due), prints one line, exits 143 (130 after Ctrl-C) with its workers gone and
  their shared memory freed; the same command resumes from that step. Sent to the trainer alone
  (Kubernetes, a TPU VM's preemption notice) or to its whole process group (SLURM's scancel,
  `kill -TERM -PGID`, Ctrl-C in a terminal): the data workers leave the signal to the trainer; when they
  died of it, the trainer hung in Grain's close until a SIGKILL."""
  wd = tmp_path / "run"
  cmd = _trainer(repo, wd, tfds_dir, "--config.total_steps=100000", "--config.data.num_workers=2",
                 "--config.checkpoint_every=0", "--config.eval_every=0", "--config.log_every=1")
  proc = subprocess.Popen(cmd, env=_env(), cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, start_new_session=True)
  try:
    metrics, deadline = wd / "metrics.jsonl", time.time() + 300
    while time.time() < deadline and proc.poll() is None and (
        not metrics.exists() or len(metrics.read_text().splitlines()) < 3):
      time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    everyone = _children(proc.pid)
    # The workers were spawned with both signals blocked (a signal before their init ignores them
    # waits, instead of killing them while they start) and ignore them now; the trainer takes them.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    workers = [p for p in everyone if "spawn_main" in _cmdline(p)]
    assert len(workers) == 2, [_cmdline(p) for p in everyone]
    for worker in workers:
      assert stop_signals <= _signals(worker, "SigBlk") & _signals(worker, "SigIgn"), worker
    assert not stop_signals & _signals(proc.pid, "SigBlk")
    (os.killpg if whom == "process group" else os.kill)(proc.pid, getattr(signal, sig))
    _, stderr = proc.communicate(timeout=60)
  finally:
    if proc.poll() is None:    # only then: a group kill would also end the resource tracker's cleanup
      os.killpg(proc.pid, signal.SIGKILL)
  expected = {"SIGTERM": (errors.STOPPED_EXIT_CODE, "SIGTERM"),
              "SIGINT": (errors.INTERRUPTED_EXIT_CODE, "Ctrl-C (SIGINT)")}[sig]
  assert proc.returncode == expected[0], stderr[-3000:]
  line = _user_error_line(stderr)
  assert "leaked shared_memory" not in stderr, stderr[-3000:]
  stopped_at = int(line.split(f"stopped on {expected[1]} after step ")[1].split()[0])
  assert f"its checkpoint is saved in {wd / 'checkpoints'}: run the same command to resume" in line
  assert checkpoints.Checkpointer(str(wd / "checkpoints"), read_only=True).latest_step() == stopped_at
  assert json.loads(metrics.read_text().splitlines()[-1])["step"] == stopped_at
  deadline = time.time() + 10
  while time.time() < deadline and any(_alive(p) for p in everyone):
    time.sleep(0.1)
  assert not [p for p in everyone if _alive(p)], [_cmdline(p) for p in everyone if _alive(p)]
  if whom != "trainer":
    return                     # resuming does not depend on what stopped the run: checked once

  cmd[cmd.index("--config.total_steps=100000")] = f"--config.total_steps={stopped_at + 2}"
  rerun = subprocess.run(cmd, env=_env(), cwd=repo, capture_output=True, text=True, timeout=600)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert f"Resuming from the checkpoint at step {stopped_at} " in rerun.stderr
  steps = [json.loads(l)["step"] for l in metrics.read_text().splitlines()]
  assert steps == sorted(steps) and sorted(set(steps)) == list(range(1, stopped_at + 3))  # none lost


@pytest.mark.parametrize("sig,second_action", [(signal.SIGTERM, signal.SIG_DFL),
                                               (signal.SIGINT, signal.default_int_handler)])
def test_stop_request_turns_the_first_signal_into_a_flag_and_leaves_the_second_to_end_the_process(
    sig, second_action):
  previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
  with preemption.StopRequest(checkpoint_manager=None) as stop:
    assert not stop.requested(1)
    os.kill(os.getpid(), sig)
    deadline = time.time() + 5
    while time.time() < deadline and not stop.requested(2):
      time.sleep(0.01)                    # the handler runs in the main thread between bytecodes
    assert stop.requested(2)
    assert signal.getsignal(sig) == second_action
    assert stop.exit_code() == 128 + sig and stop.describe() in ("SIGTERM", "Ctrl-C (SIGINT)")
  assert {s: signal.getsignal(s) for s in previous} == previous


def test_a_ctrl_c_outside_the_training_loop_ends_with_one_line_and_status_130(capsys):
  def main(argv):
    raise KeyboardInterrupt
  with pytest.raises(SystemExit) as exit_info:
    errors.run_main(main)([])
  assert exit_info.value.code == errors.INTERRUPTED_EXIT_CODE
  err = capsys.readouterr().err
  assert err.startswith("crackjax: interrupted (Ctrl-C)") and "Traceback" not in err


def _cmdline(pid: int) -> str:
  try:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
      return f.read().replace(b"\0", b" ").decode(errors="replace")
  except OSError:
    return ""


# ------------------------------------------------------------------------------------------------
# One trainer per workdir.
# ------------------------------------------------------------------------------------------------


_HOLD_LOCK = ("import sys, time; from crackjax.training import workdir; claim = workdir.claim(sys.argv[1]); "
              "claim.__enter__(); print('locked', flush=True); time.sleep(600)")


def test_a_second_trainer_fails_at_once_naming_the_first_and_a_killed_ones_lock_does_not_block(
    repo, tmp_path, smoke_config):
  wd = tmp_path / "run"
  holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(wd)], cwd=repo, stdout=subprocess.PIPE,
                            text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    t0 = time.time()
    with pytest.raises(workdir_lib.WorkdirInUseError, match=rf"--workdir {wd} is in use by another crackjax "
                       rf"trainer \(pid {holder.pid} on host .*, started .*UTC"):
      train.train_and_evaluate(smoke_config.copy_and_resolve_references(), str(wd))
    assert time.time() - t0 < 30
    assert sorted(os.listdir(wd)) == [".lock"]            # nothing written by the second trainer
  finally:
    holder.kill()                                         # SIGKILL: no cleanup, the file stays
    holder.wait()
  assert json.loads((wd / ".lock").read_text())["pid"] == holder.pid   # a stale file...
  with workdir_lib.claim(str(wd)):                                     # ...that does not block
    assert json.loads((wd / ".lock").read_text())["pid"] == os.getpid()


def test_a_workdir_that_is_a_file_is_named(tmp_path):
  path = tmp_path / "not_a_folder"
  path.write_text("x")
  with pytest.raises(errors.UserError, match=f"--workdir {path} is a file, not a folder"):
    with workdir_lib.claim(str(path)):
      pass


# ------------------------------------------------------------------------------------------------
# Data changed under a run.
# ------------------------------------------------------------------------------------------------


def test_a_resumed_run_refuses_data_changed_under_it_and_says_what_changed(smoke_config, tmp_path):
  from tests.test_builders import _mask, _save, small_copy_config
  root = tmp_path / "copy"
  config = small_copy_config(smoke_config, root, total_steps=4, checkpoint_every=2)
  wd = tmp_path / "run"
  final = train.train_and_evaluate(config, str(wd))
  recorded = json.loads((wd / "data.json").read_text())
  assert final["data"]["fingerprint"] == recorded["fingerprint"] and "files" not in final["data"]
  assert sorted(recorded["files"]) == ["images/a.png", "images/b.png", "images/c.png", "masks/a.png",
                                       "masks/b.png", "masks/c.png", "splits.csv"]
  mtime = os.stat(root / "masks/a.png").st_mtime_ns
  _save(root / "masks/a.png", _mask(7, 64, 64) * 255)                 # replaced in place
  os.utime(root / "masks/a.png", ns=(mtime + 10**9, mtime + 10**9))
  config.total_steps = 6                                               # resume the finished run
  with pytest.raises(errors.UserError, match=rf"the data of the run in {wd} changed since it started "
                     r"\(fingerprint: .*; 1 file\(s\) changed: masks/a.png\)"):
    train.train_and_evaluate(config, str(wd))
  assert json.loads((wd / "config.json").read_text())["total_steps"] == 4   # nothing rewritten
  assert json.loads((wd / "data.json").read_text()) == recorded
  # The same files in another folder are the same data: the run resumes from there.
  _save(root / "masks/a.png", _mask(0, 64, 64) * 255)
  shutil.copytree(root, tmp_path / "moved")
  config.data.manual_dir = str(tmp_path / "moved")
  assert train.train_and_evaluate(config, str(wd))["total_steps"] == 6

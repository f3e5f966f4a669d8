"""User mistakes end as one line on stderr and exit status 2; bugs keep their tracebacks."""

import errno
import os
import subprocess
import sys
import threading

import pytest

from crackjax import config_check
from crackjax import errors
from crackjax.training import train


def test_run_main_prints_a_user_error_as_one_line_and_exits_2(capsys):
  def main(argv):
    raise errors.UserError("config.json: model.name 'unte' is not a model; choices: ['unet']")

  with pytest.raises(SystemExit) as e:
    errors.run_main(main)(["prog"])
  assert e.value.code == errors.USER_ERROR_EXIT_CODE
  err = capsys.readouterr().err
  assert err == "crackjax: config.json: model.name 'unte' is not a model; choices: ['unet']\n"


def test_run_main_keeps_the_traceback_of_a_bug():
  def main(argv):
    raise KeyError("a bug")

  with pytest.raises(KeyError):
    errors.run_main(main)(["prog"])


def test_run_main_drops_only_the_closed_loop_noise_of_native_threads(monkeypatch):
  """After a failed orbax save, tensorstore's threads report `Event loop is closed` through
  sys.unraisablehook (seen on a full tmpfs): run_main drops exactly that error from other threads."""
  reported = []
  monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(repr(u.exc_value)))
  monkeypatch.setattr(sys, "excepthook", sys.excepthook)

  class FailsWhenCollected:
    def __init__(self, error):
      self.error = error

    def __del__(self):
      raise self.error

  def collect_in_a_thread(error):
    thread = threading.Thread(target=lambda: FailsWhenCollected(error))
    thread.start()
    thread.join()

  def main(argv):
    collect_in_a_thread(RuntimeError("Event loop is closed"))
    collect_in_a_thread(ValueError("a real problem"))
    FailsWhenCollected(RuntimeError("Event loop is closed"))   # in the main thread: not noise

  errors.run_main(main)(["prog"])
  assert reported == ["ValueError('a real problem')", "RuntimeError('Event loop is closed')"]


def test_writing_names_the_path_of_a_full_disk_and_passes_other_errors():
  with pytest.raises(errors.DiskFullError, match=r"/runs/a/metrics.jsonl.*free space"):
    with errors.writing("/runs/a/metrics.jsonl"):
      raise OSError(errno.ENOSPC, "No space left on device")
  with pytest.raises(PermissionError):
    with errors.writing("/runs/a/metrics.jsonl"):
      raise PermissionError(errno.EACCES, "Permission denied")
  wrapped = RuntimeError("save failed")
  wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
  assert errors.is_disk_full(wrapped)
  assert not errors.is_disk_full(RuntimeError("other"))


@pytest.mark.parametrize("module", ["crackjax.main", "crackjax.evaluate", "crackjax.predict"])
def test_entry_points_wrap_main_in_run_main(module):
  # Cheap structural check; the end-to-end messages are tested where each error is raised.
  src = open(__import__(module, fromlist=["x"]).__file__).read()
  assert "app.run(errors.run_main(main)" in src, module


# ------------------------------------------------------------------------------------------------
# The whole config is checked before anything is written.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key, value, message", [
    ("model.name", "unte", r"config.model.name='unte' is unknown; choose one of \['deepcrack'"),
    ("balance.method", "ranx", r"config.balance.method='ranx' is unknown"),
    ("data.name", "cfdd", r"config.data.name='cfdd' is unknown"),
    ("batch_size", 6, r"config.batch_size=6 must be divisible by the 4 devices"),
    ("eval.final_split", "train", r"config.eval.final_split='train': use 'test'"),
    ("data.ambiguous_masks", "guess", r"config.data.ambiguous_masks='guess'"),
    ("optimizer.learning_rate", -1.0, r"config.optimizer.learning_rate=-1.0 must be a positive number"),
])
def test_a_bad_config_value_fails_before_anything_is_written(smoke_config, tmp_path, key, value, message):
  config = smoke_config.copy_and_resolve_references()
  config.update_from_flattened_dict({key: value})
  wd = tmp_path / "run"
  with pytest.raises(errors.UserError, match=message):
    train.train_and_evaluate(config, str(wd))
  assert not wd.exists()          # not even the folder: the corrected rerun finds it as it was


def test_every_bad_value_is_named_at_once(smoke_config):
  config = smoke_config.copy_and_resolve_references()
  config.model.name, config.balance.interval = "unte", 0
  with pytest.raises(errors.UserError, match=r"^2 bad config values: config.model.name='unte'.* \| "
                     r"config.balance.interval must be >= 1"):
    config_check.validate(config)


def test_a_problem_only_the_data_shows_fails_before_config_json_and_the_corrected_rerun_works(
    smoke_config, tmp_path):
  """final_split='val' on a real copy without a val split is known only once the copy is read:
  it fails then, before config.json is written, and the corrected command runs in the same workdir."""
  from tests.test_builders import small_copy_config
  config = small_copy_config(smoke_config, tmp_path / "copy", total_steps=2, **{"eval.final_split": "val"})
  wd = tmp_path / "run"
  with pytest.raises(errors.UserError, match=r"config.eval.final_split='val': the dataset 'crack_folder' "
                     r"has splits \['test', 'train'\]"):
    train.train_and_evaluate(config, str(wd))
  assert sorted(os.listdir(wd)) == [".lock"]
  config.eval.final_split = "test"
  assert train.train_and_evaluate(config, str(wd))["split"] == "test"


# ------------------------------------------------------------------------------------------------
# Every entry point: one `crackjax:` line, exit status 2, no traceback.
# ------------------------------------------------------------------------------------------------


def _command(repo, module: str, *args) -> subprocess.CompletedProcess:
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu")
  return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=repo, env=env,
                        capture_output=True, text=True, timeout=300)


def _one_line(proc: subprocess.CompletedProcess) -> str:
  assert proc.returncode == errors.USER_ERROR_EXIT_CODE, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith("crackjax:")]
  assert len(lines) == 1 and proc.stderr.rstrip().endswith(lines[0]), proc.stderr[-3000:]
  return lines[0]


@pytest.mark.slow
def test_every_entry_point_reports_a_user_error_in_one_line(repo, tmp_path, tfds_dir, trained_workdir):
  smoke = repo / "configs" / "smoke.py"
  train_ = lambda *args: _command(repo, "crackjax.main", "--config", smoke, f"--config.data.tfds_dir={tfds_dir}",
                                  *args)
  proc = _command(repo, "crackjax.evaluate", "--workdir", tmp_path / "missing")
  assert proc.stderr.strip() == _one_line(proc)     # nothing else at all
  assert f"--workdir {tmp_path / 'missing'} does not exist" in proc.stderr
  proc = _command(repo, "crackjax.predict", "--workdir", trained_workdir, "--input", tmp_path / "x.png",
                  "--output", tmp_path / "out")
  assert f"--input={tmp_path / 'x.png'} does not exist" in _one_line(proc)
  (tmp_path / "a_file").write_text("")
  assert f"--workdir {tmp_path / 'a_file'} is a file, not a folder" in _one_line(
      train_("--workdir", tmp_path / "a_file"))
  assert "config.model.name='unte' is unknown" in _one_line(
      train_("--workdir", tmp_path / "w1", "--config.model.name=unte"))
  assert not (tmp_path / "w1").exists()
  assert "--config.batch_size=four" in _one_line(train_("--workdir", tmp_path / "w2", "--config.batch_size=four"))
  # Bad data: the message lists every problem (one line each) after its `crackjax:` line.
  from tests.test_builders import _pair, _splits_csv
  root = tmp_path / "bad_copy"
  _pair(root, "images/a.png", "masks/a.png", 1)
  _pair(root, "images/b.png", "masks/b.png", 2)
  (root / "masks/b.png").write_bytes(b"not a png")
  _splits_csv(root, [("a", "train"), ("b", "test")])
  proc = train_("--workdir", tmp_path / "w3", "--config.data.name=crack_folder",
                f"--config.data.manual_dir={root}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
  assert f"crackjax: config.data.name='crack_folder': 2 problem(s) in {root}" in proc.stderr
  assert "masks/b.png: unreadable or truncated mask" in proc.stderr

"""User mistakes end as one line on stderr and exit status 2; bugs keep their tracebacks."""

import errno

import pytest

from crackjax import errors


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

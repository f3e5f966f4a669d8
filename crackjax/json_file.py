"""JSON files written atomically: a reader (a resumed run, another host, a user) never sees a half-written
config.json, final.json or eval/<split>.json."""

from __future__ import annotations

import json
import os

from crackjax import errors


def write(path: str, payload, *, sort_keys: bool = True) -> None:
  """Writes `payload` to `path` as indented JSON via a temporary file beside it and `os.replace`.

  NaN and infinity are refused (`allow_nan=False`): a metric that is not a number fails here, naming
  the file, instead of landing in a result. A full disk fails naming the file (errors.DiskFullError)
  and leaves the previous version of the file as it was. The parent folder is created if needed.
  """
  try:
    text = json.dumps(payload, indent=2, sort_keys=sort_keys, allow_nan=False)
  except ValueError as e:
    raise ValueError(f"{path}: {e}") from e
  tmp = path + ".tmp"
  try:
    with errors.writing(path):
      os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
      with open(tmp, "w") as f:
        f.write(text)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise
  os.replace(tmp, path)

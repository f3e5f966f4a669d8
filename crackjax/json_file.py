"""JSON files written atomically: a reader (a resumed run, another host, a user) never sees a half-written
config.json, final.json or eval/<split>.json."""

from __future__ import annotations

import json
import os


def write(path: str, payload, *, sort_keys: bool = True) -> None:
  """Writes `payload` to `path` as indented JSON via a temporary file beside it and `os.replace`.

  NaN and infinity are refused (`allow_nan=False`): a metric that is not a number fails here, naming
  the file, instead of landing in a result. The parent folder is created if needed.
  """
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp"
  try:
    with open(tmp, "w") as f:
      json.dump(payload, f, indent=2, sort_keys=sort_keys, allow_nan=False)
  except ValueError as e:
    os.unlink(tmp)
    raise ValueError(f"{path}: {e}") from e
  os.replace(tmp, path)

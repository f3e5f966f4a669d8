"""Content hashes of a dataset's files, cached by (path, size, mtime_ns) so that a start stays fast.

A real dataset's fingerprint (crackjax/data/pair_check.py `Listing.fingerprint`) and the check for images
leaked between splits both rest on the SHA-1 of every file's bytes. Hashing a copy of a few thousand
images takes seconds to minutes, so each file's hash is kept in a JSON cache beside the prepared data
and reused while the file's size and modification time (in ns) are unchanged; a file replaced in place,
even by one of the same size, gets a new mtime and is hashed again.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os

from absl import logging

from crackjax import json_file

_CHUNK = 1 << 20


def sha1_file(path: str) -> str:
  """Hex SHA-1 of the bytes of the file at `path`."""
  h = hashlib.sha1()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(_CHUNK), b""):
      h.update(chunk)
  return h.hexdigest()


def cache_path(cache_dir: str, root: str) -> str:
  """Where the hashes of the files under `root` are cached in `cache_dir` (one JSON file per root)."""
  root = os.path.abspath(root)
  name = "".join(c if c.isalnum() else "_" for c in os.path.basename(root)) or "data"
  return os.path.join(os.path.expanduser(cache_dir), "crackjax_file_hashes",
                      f"{name}_{hashlib.sha1(root.encode()).hexdigest()[:8]}.json")


def hashes(paths: list[str], cache_file: str | None = None, num_threads: int = 4) -> dict[str, str]:
  """`{path: hex SHA-1}` of the existing files among `paths` (absolute); missing files are left out.

  With `cache_file`, hashes of files whose (size, mtime_ns) match the cache are reused, and the cache
  is rewritten when anything changed (a cache that cannot be written only costs time next start).
  """
  cache = _load(cache_file)
  out, todo, stats = {}, [], {}
  for path in paths:
    try:
      st = os.stat(path)
    except OSError:
      continue
    stats[path] = [st.st_size, st.st_mtime_ns]
    entry = cache.get(path)
    if entry is not None and entry[:2] == stats[path]:
      out[path] = entry[2]
    else:
      todo.append(path)
  with concurrent.futures.ThreadPoolExecutor(max(1, num_threads)) as pool:
    for path, digest in zip(todo, pool.map(sha1_file, todo)):
      out[path] = digest
  if cache_file and todo:
    cache.update({p: stats[p] + [out[p]] for p in todo})
    try:
      json_file.write(cache_file, cache, sort_keys=True)
    except OSError as e:
      logging.warning("Could not save the file hash cache %s (%s); the next start hashes again.",
                      cache_file, e)
  return out


def _load(cache_file: str | None) -> dict:
  if not cache_file or not os.path.exists(cache_file):
    return {}
  try:
    with open(cache_file) as f:
      cache = json.load(f)
    return cache if isinstance(cache, dict) else {}
  except (OSError, ValueError):
    return {}

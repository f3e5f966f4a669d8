"""The house stays in order: README's module map lists every module, and the config comments list
exactly the registered choices."""

from __future__ import annotations

import os
import re

import pytest

from crackjax import models
from crackjax.balance import methods
from crackjax.data import sources

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme_map() -> set[str]:
  with open(os.path.join(ROOT, "README.md")) as f:
    text = f.read()
  section = text[text.index("## How it is built"):]
  section = section[:section.index("\n## ", 4)] if "\n## " in section[4:] else section
  listed = set()
  for token in re.findall(r"^\s{4}(\S+)", section, flags=re.M):
    m = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", token)
    listed.update(f"{m.group(1)}{x}{m.group(3)}" for x in m.group(2).split(",")) if m else listed.add(token)
  return listed


def test_readme_module_map_lists_every_module():
  listed = _readme_map()
  missing = []
  for dirpath, _, files in os.walk(os.path.join(ROOT, "crackjax")):
    rel_dir = os.path.relpath(dirpath, ROOT)
    for f in files:
      if not f.endswith(".py") or (f == "__init__.py" and rel_dir != "crackjax/models"):
        continue
      path = os.path.join(rel_dir, f)
      if path not in listed and not any(path.startswith(p) for p in listed if p.endswith("/")):
        missing.append(path)
  assert not missing, f"README's 'How it is built' does not list {sorted(missing)}"


def _choices(key: str) -> list[str]:
  """The `a | b | c` choices written beside (or on the line above) `c.<key> =` in config_base.base()."""
  with open(os.path.join(ROOT, "crackjax", "config_base.py")) as f:
    lines = f.read().splitlines()
  for i, line in enumerate(lines):
    if re.match(rf"\s*c\.{re.escape(key)} = ", line):
      comment = line.split("#", 1)[1] if "#" in line else lines[i - 1].split("#", 1)[1]
      return sorted(x.strip().split()[0] for x in comment.split("|"))
  raise AssertionError(f"config_base.base() has no c.{key}")


@pytest.mark.parametrize("key, registered", [
    ("model.name", models.MODELS.names()),
    ("data.name", sources.DATASETS.names()),
    ("balance.method", methods.METHODS.names()),
])
def test_config_comments_list_exactly_the_registered_choices(key, registered):
  assert _choices(key) == registered


def test_every_module_path_named_in_docs_and_code_exists():
  """A moved module leaves no stale `crackjax/...py` or `tests/...py` path behind in prose or comments."""
  named = {}
  for top in ("README.md", "docs", "configs", "crackjax", "benchmarks", "experiments", "launch", "tests"):
    start = os.path.join(ROOT, top)
    paths = [start] if os.path.isfile(start) else [
        os.path.join(d, f) for d, _, fs in os.walk(start) for f in fs if f.endswith((".py", ".md", ".sh"))]
    for path in paths:
      with open(path, encoding="utf-8") as f:
        for token in re.findall(r"\b((?:crackjax|tests|benchmarks|experiments|launch)/[\w/]+\.(?:py|sh))", f.read()):
          named.setdefault(token, os.path.relpath(path, ROOT))
  stale = {t: where for t, where in named.items() if not os.path.exists(os.path.join(ROOT, t))}
  assert not stale, f"paths named but missing (path: where): {stale}"

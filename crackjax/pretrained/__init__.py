"""The trained models shipped inside the package: one model folder per name, loaded with no download.

Each `crackjax/pretrained/<name>/` is a model folder (crackjax/inference/model_folder.py: config.json,
weights.msgpack, card.json); its model card is in docs/models.md and the command that retrains and
re-ships it is in experiments/train_shipped_models.py.
"""

from __future__ import annotations

import os

from crackjax import errors

DIRECTORY = os.path.dirname(os.path.abspath(__file__))

_FILES = ("config.json", "weights.msgpack")


def names() -> list[str]:
  """The names of the shipped models (`--model NAME`, `crackjax.load(NAME)`)."""
  return sorted(n for n in os.listdir(DIRECTORY)
                if all(os.path.isfile(os.path.join(DIRECTORY, n, f)) for f in _FILES))


def folder(name: str) -> str:
  """The model folder of the shipped model `name`."""
  if name not in names():
    raise errors.UserError(f"no shipped model named {name!r}; the shipped models are {names()} "
                           f"(`python -m crackjax.predict --list_models`), or pass a training workdir.")
  return os.path.join(DIRECTORY, name)


def model_or_workdir(model: str | None, workdir: str | None) -> str:
  """The folder the entry points' `--model NAME` / `--workdir DIR` flags name (exactly one is given)."""
  if bool(model) == bool(workdir):
    raise errors.UserError(f"give exactly one of --model (shipped: {', '.join(names())}) and "
                           "--workdir (a training workdir or model folder).")
  return folder(model) if model else workdir


def resolve(name_or_path: str) -> str:
  """The folder to restore for a shipped model's name, a training workdir or a model folder."""
  if name_or_path in names():
    return folder(name_or_path)
  path = os.path.abspath(os.path.expanduser(name_or_path))
  if os.path.isfile(os.path.join(path, "config.json")):
    return path
  raise errors.UserError(
      f"{name_or_path!r} is neither a shipped model ({', '.join(names()) or 'none shipped'}) nor a "
      f"crackjax workdir or model folder (a folder with config.json); check the name or the path.")

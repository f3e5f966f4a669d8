"""Dataset registry keyed by `config.data.name`: builds (and prepares once) the tfds builder."""

from __future__ import annotations

import os
from typing import Callable

import tensorflow_datasets as tfds

from crackjax.data import builders

_REGISTRY: dict[str, Callable] = {}


def register(name: str):
  def wrap(fn):
    _REGISTRY[name] = fn
    return fn
  return wrap


@register("synthetic")
def _synthetic(data_config, data_dir: str) -> tfds.core.DatasetBuilder:
  s = data_config.synthetic
  config = builders.SyntheticCracksConfig(
      height=s.height, width=s.width, num_train=s.num_train, num_val=s.num_val, num_test=s.num_test,
      seed=s.seed, distractors=s.distractors)
  return builders.SyntheticCracks(config=config, data_dir=data_dir, file_format="array_record")


def tfds_dir(data_config) -> str:
  return os.path.expanduser(data_config.tfds_dir)


def get_builder(data_config, prepare: bool = True) -> tfds.core.DatasetBuilder:
  """The builder named by `data_config.name`, prepared under `data_config.tfds_dir` unless it already is."""
  if data_config.name not in _REGISTRY:
    raise ValueError(f"config.data.name={data_config.name!r} is unknown; choose one of {sorted(_REGISTRY)}.")
  builder = _REGISTRY[data_config.name](data_config, tfds_dir(data_config))
  if prepare:
    download_config = None
    if data_config.get("manual_dir"):
      download_config = tfds.download.DownloadConfig(manual_dir=os.path.expanduser(data_config.manual_dir))
    builder.download_and_prepare(download_config=download_config)
  return builder


def split_source(builder, split: str, decode_images: bool = True):
  """Random-access source of one split; fails naming the split when the dataset has none."""
  if split not in builder.info.splits:
    raise ValueError(f"dataset {builder.name}/{builder.builder_config.name} has no split {split!r}; "
                     f"it has {sorted(builder.info.splits)}.")
  decoders = None if decode_images else {"image": tfds.decode.SkipDecoding()}
  return builder.as_data_source(split=split, decoders=decoders)

"""Dataset registry keyed by `config.data.name`: builds (and prepares once) the tfds builder.

Names: `synthetic` (the embedded default) and the real datasets of `builders.MANUAL_BUILDERS`
(crack_folder, cfd, deepcrack, crack500, two_stage_crack, hrrc), read from `config.data.manual_dir`.
A real dataset is checked in full before it is prepared (`pair_check.check`); with
`config.data.skip_bad_pairs` its bad pairs are left out and listed in the log at every start.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tensorflow_datasets as tfds
from absl import logging

from crackjax import errors
from crackjax import registry
from crackjax.data import builders
from crackjax.data import input_pipeline
from crackjax.data import mask_encoding
from crackjax.data import pair_check
from crackjax.data import tile_store


DATASETS = registry.Registry("config.data.name")


def synthetic_builder_config(data_config) -> builders.SyntheticCracksConfig:
  """The generator draw (`spec`, `seed`, `split_sizes`) that `config.data.synthetic` names."""
  s = data_config.synthetic
  return builders.SyntheticCracksConfig(
      height=s.height, width=s.width, num_train=s.num_train, num_val=s.num_val, num_test=s.num_test,
      seed=s.seed, distractors=s.distractors, crack_fraction=tuple(s.crack_fraction))


@DATASETS.register("synthetic")
def _synthetic(data_config, data_dir: str) -> tfds.core.DatasetBuilder:
  return builders.SyntheticCracks(config=synthetic_builder_config(data_config), data_dir=data_dir,
                                  file_format="array_record")


def _manual_dir(data_config) -> str:
  """`data_config.manual_dir`; a UserError when a real dataset is named without it."""
  manual_dir = data_config.get("manual_dir") or ""
  if not manual_dir:
    cls = builders.MANUAL_BUILDERS[data_config.name]
    raise errors.UserError(
        f"config.data.name={data_config.name!r} reads your copy of the dataset from "
        f"config.data.manual_dir, which is empty: pass --config.data.manual_dir=PATH. {cls.LAYOUT} "
        f"Where to get it: {cls.__name__}.MANUAL_DOWNLOAD_INSTRUCTIONS (crackjax/data/builders.py).")
  return manual_dir


def _manual_factory(builder_cls):
  def make(data_config, data_dir: str) -> tfds.core.DatasetBuilder:
    config = builder_cls.config_for(
        _manual_dir(data_config), skip_bad_pairs=bool(data_config.get("skip_bad_pairs")),
        ambiguous_masks=data_config.get("ambiguous_masks", "error"), hash_cache_dir=data_dir)
    return builder_cls(config=config, data_dir=data_dir, file_format="array_record")
  return make


for _name, _cls in builders.MANUAL_BUILDERS.items():
  DATASETS.register(_name, _manual_factory(_cls))


def check_config(data_config) -> None:
  """Checks `config.data` without reading or writing any file: the dataset name, a real dataset's
  manual_dir, the generator's settings and the crop options (UserError naming the key)."""
  DATASETS.get(data_config.name)
  if data_config.name in builders.MANUAL_BUILDERS:
    _manual_dir(data_config)
  if data_config.name == "synthetic":
    synthetic_builder_config(data_config)              # the generator's spec checks its values
  if data_config.get("crop_tile_size", 0):
    tile_store.check_options(data_config.crop_tile_size, data_config.get("crop_tile_codec", "png"))
  mask_encoding.check_ambiguous_option(data_config.get("ambiguous_masks", "error"))


def _prepare_manual(builder: builders.ManualCrackDataset, data_config, download_config) -> None:
  """Validation of every pair (unless prepared), preparation, then the skipped pairs in the log."""
  skip = bool(data_config.get("skip_bad_pairs"))
  if not builder.is_prepared():
    report = builder.validate(data_config.manual_dir)
    report.raise_if_bad(f"config.data.name={data_config.name!r}", skip)
    logging.info("Preparing %s from %s: %s pairs; this happens once, into %s", data_config.name,
                 report.root, {s: len(p) for s, p in report.pairs.items()}, builder.data_dir)
  builder.download_and_prepare(download_config=download_config)
  skipped = skipped_pairs(builder)
  if skipped and not skip:
    raise pair_check.ValidationError(
        f"{builder.data_dir} was prepared with config.data.skip_bad_pairs=true and lacks these "
        f"{len(skipped)} bad pairs:\n" + "\n".join(f"  {line}" for line in skipped) +
        "\nPass --config.data.skip_bad_pairs=true to train without them, or fix them (the copy's "
        "fingerprint then changes and it is prepared afresh).")
  if skipped:
    logging.warning("%s: %d bad pair(s) left out (config.data.skip_bad_pairs=true):\n%s",
                    data_config.name, len(skipped), "\n".join(f"  {line}" for line in skipped))


def skipped_pairs(builder) -> list[str]:
  """The bad pairs a real dataset was prepared without (`split/stem: problems` lines); [] if none."""
  metadata = builder.info.metadata
  return list(metadata.get("skipped_pairs", [])) if metadata else []


def tfds_dir(data_config) -> str:
  return os.path.expanduser(data_config.tfds_dir)


def get_builder(data_config, prepare: bool = True) -> tfds.core.DatasetBuilder:
  """The builder named by `data_config.name`, prepared under `data_config.tfds_dir` unless it already is."""
  make = DATASETS.get(data_config.name)
  if not prepare:
    return make(data_config, tfds_dir(data_config))
  download_config = None
  if data_config.get("manual_dir"):
    download_config = tfds.download.DownloadConfig(manual_dir=os.path.expanduser(data_config.manual_dir))
  with _prepare_lock(tfds_dir(data_config), data_config.name):
    # Built under the lock: a builder made while another process prepares would miss its splits.
    builder = make(data_config, tfds_dir(data_config))
    if isinstance(builder, builders.ManualCrackDataset):
      _prepare_manual(builder, data_config, download_config)
    else:
      builder.download_and_prepare(download_config=download_config)
  return builder


@contextlib.contextmanager
def _prepare_lock(data_dir: str, name: str):
  """Serialises dataset preparation among processes sharing `data_dir` (several training processes
  on one host, or tests): tfds prepares into a temporary directory and renames it at the end, so a
  second concurrent preparation fails. An exclusive `flock` on `data_dir/.crackjax_prepare_<name>.lock`;
  where the filesystem has no locks (a gs:// path, Lustre without `-o flock`) it proceeds without
  one, and multi-process training relies on process 0 preparing first (crackjax/training/train.py)."""
  if "://" in data_dir:
    yield
    return
  os.makedirs(data_dir, exist_ok=True)
  with open(os.path.join(data_dir, f".crackjax_prepare_{name}.lock"), "w") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX)
    except OSError as e:
      logging.warning("No lock on %s (%s); preparing %s without one.", f.name, e, name)
    yield


def split_source(builder, split: str, decode_images: bool = True):
  """Random-access source of one split; fails naming the split when the dataset has none."""
  if split not in builder.info.splits:
    raise errors.UserError(f"dataset {builder.name}/{builder.builder_config.name} has no split {split!r}; "
                           f"it has {sorted(builder.info.splits)}.")
  decoders = None if decode_images else {"image": tfds.decode.SkipDecoding()}
  return builder.as_data_source(split=split, decoders=decoders)


def crop_source(builder, split: str, data_config):
  """What the patch sampler crops `split` from: whole decoded images (`data.crop_tile_size` 0, with an
  LRU of `data.cache_images` images per worker) or the split's tile store (built once beside the
  prepared data, with an LRU of `data.crop_tile_cache_mb` MB of decoded tiles per worker)."""
  tile = int(data_config.get("crop_tile_size", 0))
  if tile > 0:
    path = tile_store.load_or_build(split_source(builder, split), builder.data_dir, split, tile,
                                    data_config.get("crop_tile_codec", "png"))
    return tile_store.TiledImages(path, data_config.get("crop_tile_cache_mb", 256))
  return input_pipeline.FullImages(split_source(builder, split), data_config.cache_images)


def identity(builder) -> dict:
  """What a run trains on, for `workdir/data.json` and final.json: the dataset, its prepared config
  (whose name holds a real copy's content fingerprint) and, for a real copy, every file's SHA-1."""
  cfg = builder.builder_config
  out = {"dataset": builder.name, "builder_config": cfg.name, "version": str(builder.version)}
  if isinstance(cfg, builders.ManualCrackConfig):
    out["fingerprint"] = cfg.fingerprint
    out["files"] = dict(sorted(cfg.file_hashes.items()))
  return out


def identity_changes(saved: dict, current: dict, limit: int = 5) -> list[str]:
  """What differs between two `identity` records, in words (empty: the same data). A real copy is
  compared by content (its fingerprint and files), so the same files in another folder are the same."""
  keys = ("dataset", "version") + (("fingerprint",) if "fingerprint" in current else ("builder_config",))
  changes = [f"{k}: was {saved.get(k)!r}, now {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]
  a, b = saved.get("files", {}), current.get("files", {})
  for what, names in (("changed", sorted(k for k in set(a) & set(b) if a[k] != b[k])),
                      ("added", sorted(set(b) - set(a))), ("removed", sorted(set(a) - set(b)))):
    if names:
      more = f" and {len(names) - limit} more" if len(names) > limit else ""
      changes.append(f"{len(names)} file(s) {what}: {', '.join(names[:limit])}{more}")
  return changes

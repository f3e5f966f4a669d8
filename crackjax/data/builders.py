"""tensorflow-datasets builders (array_record; no TensorFlow needed at any point).

Images and masks are stored PNG/JPEG-encoded in `tfds.features.Image` (masks single-channel {0, 1}),
which tfds decodes with PIL when TensorFlow is absent. Read them with `builder.as_data_source()`
(random access, what Grain wants).

Builders: `SyntheticCracks` (the embedded default) and the real datasets read from the user's copy
(`ManualCrackDataset` subclasses: crack_folder, cfd, deepcrack, crack500, two_stage_crack, hrrc), each
with its official layout and splits in `MANUAL_DOWNLOAD_INSTRUCTIONS`. Real data are checked in full
before anything is written (crackjax/data/pair_check.py); masks are normalised to {0, 1} by the rule in
crackjax/data/mask_encoding.py.
"""

from __future__ import annotations

import abc
import hashlib
import io
import os
import time

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds
from absl import logging

from crackjax.data import file_hashes
from crackjax.data import mask_encoding
from crackjax.data import pair_check
from crackjax.data import synthetic


def encode_png(array: np.ndarray) -> bytes:
  """`[H, W] or [H, W, 3] uint8` -> PNG bytes (a single-channel PNG for [H, W])."""
  buf = io.BytesIO()
  PIL.Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
  return buf.getvalue()


def crack_features() -> tfds.features.FeaturesDict:
  """The one feature layout of every crackjax dataset."""
  return tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=(None, None, 3)),
      "mask": tfds.features.Image(shape=(None, None, 1), encoding_format="png"),
      "stem": tfds.features.Text(),
  })


#: Index of each split's first image in the generator's draw: image i of split s is
#: `synthetic.generate(seed, SYNTHETIC_SPLIT_OFFSETS[s] + i)`, stem `synthetic_<index:07d>`.
SYNTHETIC_SPLIT_OFFSETS = {"train": 0, "val": 1_000_000, "test": 2_000_000}


class PreparedLocally(tfds.core.GeneratorBasedBuilder):
  """Base of every crackjax builder: nothing is ever downloaded, so preparing says what it does.

  tfds prints "Downloading and preparing dataset Unknown size (download: Unknown size, ...)" and
  "... downloaded and prepared to ..." on stdout for any builder; for data drawn by the generator or
  read from the user's own copy that reads as a download. These two tfds hooks log instead where the
  data come from (`SOURCE`), where they go, and how long preparing took.
  """
  SOURCE = "the user's copy"

  def _source(self) -> str:
    return self.SOURCE

  def _log_download_bytes(self) -> None:      # tfds: before preparing
    self._prepare_start = time.time()
    logging.info("Preparing %s/%s from %s (nothing is downloaded) in %s ...", self.name,
                 self.builder_config.name, self._source(), self.data_dir)

  def _log_download_done(self) -> None:       # tfds: after preparing
    seconds = time.time() - getattr(self, "_prepare_start", time.time())
    logging.info("Prepared %s/%s in %.1f s; later runs reuse %s", self.name, self.builder_config.name,
                 seconds, self.data_dir)


class SyntheticCracksConfig(tfds.core.BuilderConfig):
  """One draw of the procedural generator: image size, split sizes and the data seed."""

  def __init__(self, *, height: int, width: int, num_train: int, num_val: int, num_test: int,
               seed: int, distractors: bool = True,
               crack_fraction: tuple[float, float] = synthetic.SyntheticSpec.crack_fraction):
    spec = synthetic.SyntheticSpec(height=height, width=width, distractors=distractors,
                                   crack_fraction=tuple(crack_fraction))
    # The default crack share keeps the name it had before the share was configurable.
    share = ("" if spec.crack_fraction == synthetic.SyntheticSpec.crack_fraction else
             "_crack{:g}-{:g}".format(*(100 * f for f in spec.crack_fraction)).replace(".", "p"))
    name = (f"h{height}_w{width}_n{num_train}-{num_val}-{num_test}_seed{seed}"
            f"{'' if distractors else '_nodistractors'}{share}")
    super().__init__(name=name, description="procedural road cracks (crackjax.data.synthetic)")
    self.spec = spec
    self.split_sizes = {"train": num_train, "val": num_val, "test": num_test}
    self.seed = seed


class SyntheticCracks(PreparedLocally):
  """High-resolution asphalt images with thin branching cracks and distractors (the embedded default).

  Example i of split s is `synthetic.generate(seed, offset[s] + i)`: splits never share an image and
  the same config always yields the same bytes.
  """
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = []  # configs are built from config.data.synthetic at run time
  SOURCE = "crackjax's procedural generator"

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(builder=self, features=crack_features(),
                                 description=self.__doc__)

  def _split_generators(self, dl_manager):
    del dl_manager
    sizes = self.builder_config.split_sizes
    return {s: self._generate_examples(SYNTHETIC_SPLIT_OFFSETS[s], sizes[s])
            for s in pair_check.SPLITS if sizes[s] > 0}

  def _generate_examples(self, offset: int, count: int):
    cfg = self.builder_config
    for i in range(count):
      image, mask = synthetic.generate(cfg.seed, offset + i, cfg.spec)
      stem = f"synthetic_{offset + i:07d}"
      yield stem, {"image": encode_png(image), "mask": encode_png(mask), "stem": stem}


# ------------------------------------------------------------------------------------------------
# Real datasets, read from the user's copy (`config.data.manual_dir`).
# ------------------------------------------------------------------------------------------------


def image_record_bytes(path: str) -> bytes:
  """The bytes stored for an image: the file itself when it is an 8-bit RGB JPEG or PNG (JPEG stays
  JPEG, no re-compression), otherwise the image converted to RGB and encoded as PNG (grey, palette,
  RGBA with the alpha dropped, CMYK, BMP, TIFF, WebP)."""
  with open(path, "rb") as f:
    data = f.read()
  with PIL.Image.open(io.BytesIO(data)) as image:
    if image.format in ("JPEG", "MPO", "PNG") and image.mode == "RGB":
      return data
    return encode_png(np.asarray(image.convert("RGB")))


class ManualCrackConfig(tfds.core.BuilderConfig):
  """One user copy of a dataset. The name holds the copy's fingerprint (relative paths and content
  hashes of its files, see `pair_check.Listing.fingerprint`), so a changed copy -- a file added,
  removed or replaced in place, even by one of the same size -- is prepared afresh instead of reusing
  stale records. `ambiguous_masks="threshold"` changes the stored masks, so it is in the name too;
  `skip_bad_pairs` does not change the bytes of a successful preparation (without it, a copy with bad
  pairs is not prepared at all), so it is not.

  Attributes:
    fingerprint: the copy's fingerprint (10 hex digits).
    file_hashes: `{relative path: SHA-1}` of every file the fingerprint covers (what a resumed run
      compares to say which files changed).
    hash_cache: the JSON file caching those hashes (None: no cache).
  """

  def __init__(self, *, name: str, fingerprint: str, file_hashes: dict[str, str], description: str = "",
               skip_bad_pairs: bool = False, ambiguous_masks: str = "error", hash_cache: str | None = None,
               root: str = ""):
    super().__init__(name=name, description=description)
    self.root = root                  # the copy's folder (absolute)
    self.fingerprint = fingerprint
    self.file_hashes = file_hashes
    self.hash_cache = hash_cache
    self.skip_bad_pairs = skip_bad_pairs
    self.ambiguous_masks = ambiguous_masks


def _safe_name(text: str) -> str:
  out = "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
  return out or "data"


def _find_dir(root: str, names) -> str | None:
  """The first folder of `names` under `root` (exact name first, then any case)."""
  if not os.path.isdir(root):
    return None
  entries = {e.lower(): e for e in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, e))}
  for n in names:
    if os.path.isdir(os.path.join(root, n)):
      return os.path.join(root, n)
  for n in names:
    if n.lower() in entries:
      return os.path.join(root, entries[n.lower()])
  return None


class ManualCrackDataset(PreparedLocally):
  """Base of the real-data builders: list pairs (`list_pairs`), check them all, then write records.

  Every subclass yields `crack_features()`: the image's own bytes (see `image_record_bytes`), the mask
  normalised to {0, 1} by `mask_encoding`'s rule and stored as a single-channel PNG, and the stem.
  Nothing is written until every pair has been checked (`pair_check.check`).
  """
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = []              # made at run time from the copy's fingerprint (sources.py)
  REQUIRED_SPLITS = ("train", "test")
  EXPECTED_SIZE: tuple[int, int] | None = None   # (width, height) when the dataset fixes it
  LAYOUT = ""                                   # one-paragraph description used in error messages

  @classmethod
  @abc.abstractmethod
  def list_pairs(cls, root: str) -> pair_check.Listing:
    """The pairs of the copy at `root` by split, and the layout problems, without opening any file."""

  @classmethod
  def read_mask(cls, path: str, ambiguous: str = "error") -> np.ndarray:
    """Mask file -> `[H, W] uint8` {0, 1} (mask_encoding's rule; `ambiguous`: config.data.ambiguous_masks)."""
    return mask_encoding.read_mask(path, ambiguous)

  @classmethod
  def listing(cls, root: str, hash_cache: str | None = None) -> pair_check.Listing:
    """`list_pairs` plus the checks every layout shares: the folder exists, the required splits.
    `hash_cache`: where the files' content hashes are cached (crackjax/data/file_hashes.py)."""
    root = os.path.abspath(os.path.expanduser(root))
    if not os.path.isdir(root):
      listing = pair_check.Listing(root, hash_cache=hash_cache)
      listing.problems.append(pair_check.Problem(
          root, f"config.data.manual_dir does not exist or is not a folder. {cls.LAYOUT}"))
      return listing
    listing = cls.list_pairs(root)
    listing.hash_cache = hash_cache
    fatal = any(p.stem is None for p in listing.problems)
    if (fatal and cls is not CrackFolder and _find_dir(root, ["images"]) and _find_dir(root, ["masks"])
        and os.path.exists(os.path.join(root, "splits.csv"))):
      listing.problems.append(pair_check.Problem(
          root, "this folder is in the crack_folder layout (images/, masks/, splits.csv): read it with "
          "--config.data.name=crack_folder"))
    for split in cls.REQUIRED_SPLITS:
      if split not in listing.splits and not any(p.stem is None for p in listing.problems):
        listing.problems.append(pair_check.Problem(
            root, f"no {split!r} split found. {cls.LAYOUT}"))
    return listing

  @classmethod
  def config_for(cls, manual_dir: str, skip_bad_pairs: bool = False, ambiguous_masks: str = "error",
                 hash_cache_dir: str | None = None) -> ManualCrackConfig:
    """The config of the copy at `manual_dir`, named by its content fingerprint. With
    `hash_cache_dir` (the tfds dir) the files' hashes are cached there, so a start re-hashes only
    files whose size or modification time changed."""
    root = os.path.abspath(os.path.expanduser(manual_dir))
    cache = file_hashes.cache_path(hash_cache_dir, root) if hash_cache_dir else None
    listing = cls.listing(root, cache)
    fingerprint = listing.fingerprint()
    masks = "" if ambiguous_masks == "error" else f"{ambiguous_masks}masks_"
    return ManualCrackConfig(name=f"{_safe_name(os.path.basename(root))}_{masks}{fingerprint}",
                             fingerprint=fingerprint, file_hashes=dict(listing.content_hashes()),
                             description=f"{cls.name} prepared from {root}",
                             skip_bad_pairs=skip_bad_pairs, ambiguous_masks=ambiguous_masks,
                             hash_cache=cache, root=root)

  def _read_mask(self, path: str) -> np.ndarray:
    return self.read_mask(path, self.builder_config.ambiguous_masks)

  def _source(self) -> str:
    return self.builder_config.root or self.SOURCE

  def validate(self, manual_dir: str) -> pair_check.Report:
    """Checks every pair of the copy at `manual_dir` (cached per folder for this builder)."""
    root = os.path.abspath(os.path.expanduser(os.fspath(manual_dir)))
    cached = getattr(self, "_report", None)
    if cached is None or cached.root != root:
      listing = self.listing(root, self.builder_config.hash_cache)
      if listing.fingerprint() != self.builder_config.fingerprint:
        raise pair_check.ValidationError(
            f"{self.name}: the files in {root} (fingerprint {listing.fingerprint()}) are not the copy "
            f"this builder config was made for ({self.builder_config.name}); make the config with "
            f"{type(self).__name__}.config_for({root!r}).")
      self._report = pair_check.check(listing, self._read_mask, expected_size=self.EXPECTED_SIZE)
    return self._report

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(builder=self, features=crack_features(), description=self.__doc__,
                                 metadata=tfds.core.MetadataDict())

  def _split_generators(self, dl_manager):
    report = self.validate(dl_manager.manual_dir)
    report.raise_if_bad(self.name, self.builder_config.skip_bad_pairs)
    self.info.metadata["source"] = report.root
    self.info.metadata["skipped_pairs"] = report.skipped()
    return {split: self._generate_examples(pairs) for split, pairs in report.pairs.items()}

  def _generate_examples(self, pairs):
    # One generator per split: the key (the stem) is unique within it, as tfds requires.
    for pair in pairs:
      mask = self._read_mask(pair.mask)
      yield pair.stem, {"image": image_record_bytes(pair.image), "mask": encode_png(mask),
                        "stem": pair.stem}


def _hash_split(stem: str) -> str:
  """80/10/10 train/val/test by a hash of the stem (stable when files are added or removed)."""
  u = int(hashlib.sha1(stem.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
  return "train" if u < 0.8 else ("val" if u < 0.9 else "test")


def _folder_pairs(listing, images_dir, masks_dir, split_of, *, mask_suffix="",
                  mask_extensions=pair_check.MASK_EXTENSIONS):
  images = pair_check.data_files(images_dir, pair_check.IMAGE_EXTENSIONS, listing)
  masks = pair_check.data_files(masks_dir, mask_extensions, listing)
  rel_i, rel_m = listing.rel(images_dir), listing.rel(masks_dir)
  pair_check.match_pairs(listing, images, masks, split_of, mask_suffix=mask_suffix,
                         image_hint=f"{rel_i}/{{stem}}.jpg or .png",
                         mask_hint=f"{rel_m}/{{stem}}{mask_suffix}.png")


def _missing_folder(listing, root, what: str, layout: str) -> None:
  """A fatal problem for a folder the layout needs; points one level down if it is there."""
  hint = ""
  for sub in sorted(os.listdir(root)) if os.path.isdir(root) else []:
    if os.path.isdir(os.path.join(root, sub, what.split("/")[0])):
      hint = f" It is in {os.path.join(root, sub)}: point config.data.manual_dir there."
      break
  listing.problems.append(pair_check.Problem(root, f"no folder {what}/.{hint} {layout}"))


class CrackFolder(ManualCrackDataset):
  """Any crack dataset laid out as images/ + masks/ (+ splits.csv); also the shared copies' layout."""
  LAYOUT = ("Expected layout: <manual_dir>/images/<stem>.<jpg|png|...>, <manual_dir>/masks/<stem>.png "
            "(one mask per image, same stem, same size) and optionally <manual_dir>/splits.csv with "
            "the header 'stem,split' and split in train/val/test.")
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Your own data, or any dataset converted to this layout (e.g. ../shared/datasets/{{cfd,crack500,aigle}}).
  {LAYOUT}
  Without splits.csv each stem goes to train/val/test with probability 0.8/0.1/0.1 by a hash of its name
  (stable when files are added). Masks in any common encoding are normalised to {{0, 1}} (see
  crackjax/data/mask_encoding.py).
  """

  @classmethod
  def list_pairs(cls, root):
    listing = pair_check.Listing(root)
    images_dir, masks_dir = _find_dir(root, ["images"]), _find_dir(root, ["masks"])
    for d, what in ((images_dir, "images"), (masks_dir, "masks")):
      if d is None:
        _missing_folder(listing, root, what, cls.LAYOUT)
    if listing.problems:
      return listing
    _folder_pairs(listing, images_dir, masks_dir, _hash_split)
    csv_path = os.path.join(root, "splits.csv")
    if os.path.exists(csv_path):
      splits = pair_check.read_splits_csv(listing, csv_path)
      if splits is not None:
        pair_check.apply_splits_csv(listing, splits, "splits.csv")
    else:
      listing.splits = tuple(s for s in pair_check.SPLITS if any(p.split == s for p in listing.pairs))
    return listing


class Cfd(ManualCrackDataset):
  """CrackForest (CFD; Shi et al., T-ITS 2016): 118 asphalt images of 480x320 with pixel ground truth."""
  name = "cfd"
  LAYOUT = ("Expected layout (the official release): <manual_dir>/image/NNN.jpg (001..118) and "
            "<manual_dir>/groundTruth/NNN.mat (struct groundTruth.Segmentation, 1 = background, "
            "2 = crack) or PNG masks <manual_dir>/groundTruth/NNN.png (or gt/, masks/).")
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Download the CrackForest dataset from https://github.com/cuilimeng/CrackForest-dataset (research use)
  and point config.data.manual_dir at the folder holding image/ and groundTruth/.
  {LAYOUT}
  Splits (by image number, as in ../shared/datasets/cfd): 001-060 train, 061-072 val, 073-118 test;
  the usual 72/46 protocol is train+val / test.
  """

  @staticmethod
  def split_of(stem: str) -> str:
    n = int(stem)
    return "train" if n <= 60 else ("val" if n <= 72 else "test")

  @classmethod
  def list_pairs(cls, root):
    listing = pair_check.Listing(root)
    images_dir = _find_dir(root, ["image", "images", "img"])
    masks_dir = _find_dir(root, ["groundTruth", "gt", "masks", "mask"])
    if images_dir is None:
      _missing_folder(listing, root, "image", cls.LAYOUT)
    if masks_dir is None:
      _missing_folder(listing, root, "groundTruth", cls.LAYOUT)
    if listing.problems:
      return listing
    _folder_pairs(listing, images_dir, masks_dir, lambda s: "train",
                  mask_extensions=(".mat",) + pair_check.MASK_EXTENSIONS)
    kept = []
    for pair in listing.pairs:
      if pair.stem.isdigit():
        kept.append(pair_check.Pair(pair.stem, cls.split_of(pair.stem), pair.image, pair.mask))
      else:
        listing.problems.append(pair_check.Problem(
            listing.rel(pair.image), "not a CFD image name (NNN.jpg, 001..118), so its split is "
            "unknown; use config.data.name=crack_folder with a splits.csv for other data", pair.stem))
    listing.pairs = kept
    listing.splits = ("train", "val", "test")
    return listing

  @classmethod
  def read_mask(cls, path, ambiguous: str = "error"):
    if path.lower().endswith(".mat"):
      return mask_encoding.read_cfd_mat(path)
    return mask_encoding.read_mask(path, ambiguous)


class DeepCrack(ManualCrackDataset):
  """DeepCrack (Liu et al., Neurocomputing 2019): 537 images of 544x384, 300 train / 237 test."""
  name = "deepcrack"
  LAYOUT = ("Expected layout (the official release, DeepCrack.zip unpacked): <manual_dir>/train_img/"
            "<stem>.jpg, <manual_dir>/train_lab/<stem>.png, <manual_dir>/test_img/, <manual_dir>/test_lab/.")
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Download DeepCrack.zip from https://github.com/yhlleo/DeepCrack (dataset/ folder; research use), unpack
  it and point config.data.manual_dir at the folder holding train_img/ train_lab/ test_img/ test_lab/.
  {LAYOUT}
  Splits: the official train (300) and test (237); there is no val split, so training keeps the latest
  checkpoint.
  """

  @classmethod
  def list_pairs(cls, root):
    listing = pair_check.Listing(root)
    folders = {}
    for split in ("train", "test"):
      for kind in ("img", "lab"):
        folders[split, kind] = _find_dir(root, [f"{split}_{kind}"])
        if folders[split, kind] is None:
          _missing_folder(listing, root, f"{split}_{kind}", cls.LAYOUT)
    if listing.problems:
      return listing
    for split in ("train", "test"):
      _folder_pairs(listing, folders[split, "img"], folders[split, "lab"], split)
    listing.splits = ("train", "test")
    return listing


class Crack500(ManualCrackDataset):
  """CRACK500 crops (Zhang et al., ICIP 2016; Yang et al., T-ITS 2019): 640x360 crops with masks."""
  name = "crack500"
  LAYOUT = ("Expected layout (the official crop folders): <manual_dir>/traincrop/<stem>.jpg with "
            "<manual_dir>/traincrop/<stem>_mask.png, and likewise valcrop/ and testcrop/.")
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Request/download CRACK500 from https://github.com/fyangneil/pavement-crack-detection (research use) and
  point config.data.manual_dir at the folder holding traincrop/ valcrop/ testcrop/.
  {LAYOUT}
  Splits: the official ones (traincrop -> train, valcrop -> val, testcrop -> test); at least traincrop/
  and testcrop/ must be present. The re-laid-out copy in ../shared/datasets/crack500 has only the
  official training pool, split by us: read it with config.data.name=crack_folder.
  """
  FOLDERS = {"train": "traincrop", "val": "valcrop", "test": "testcrop"}

  @classmethod
  def list_pairs(cls, root):
    listing = pair_check.Listing(root)
    found = {s: _find_dir(root, [f]) for s, f in cls.FOLDERS.items()}
    for split in ("train", "test"):
      if found[split] is None:
        _missing_folder(listing, root, cls.FOLDERS[split], cls.LAYOUT)
    if listing.problems:
      return listing
    for split, folder in found.items():
      if folder is None:
        continue
      files = pair_check.data_files(folder, pair_check.IMAGE_EXTENSIONS, listing)
      masks = [p for p in files if os.path.splitext(os.path.basename(p))[0].endswith("_mask")]
      images = [p for p in files if p not in set(masks)]
      pair_check.match_pairs(listing, images, masks, split, mask_suffix="_mask",
                             image_hint=f"{listing.rel(folder)}/{{stem}}.jpg",
                             mask_hint=f"{listing.rel(folder)}/{{stem}}_mask.png")
    listing.splits = tuple(s for s in pair_check.SPLITS if found[s] is not None)
    return listing


_IMAGE_DIRS = ("images", "image", "img", "imgs")
_MASK_DIRS = ("masks", "mask", "labels", "label", "gt", "groundtruth", "ground_truth")


def _split_folder_pairs(cls, root) -> pair_check.Listing:
  """<root>/<split>/{images,masks}/ for split in train/val/test (train and test required)."""
  listing = pair_check.Listing(root)
  present = [s for s in pair_check.SPLITS if _find_dir(root, [s]) is not None]
  for split in present:
    split_dir = _find_dir(root, [split])
    images_dir, masks_dir = _find_dir(split_dir, _IMAGE_DIRS), _find_dir(split_dir, _MASK_DIRS)
    if images_dir is None or masks_dir is None:
      listing.problems.append(pair_check.Problem(
          listing.rel(split_dir), f"needs an images/ and a masks/ folder. {cls.LAYOUT}"))
      continue
    _folder_pairs(listing, images_dir, masks_dir, split)
  for split in cls.REQUIRED_SPLITS:
    if split not in present:
      _missing_folder(listing, root, split, cls.LAYOUT)
  listing.splits = tuple(present)
  return listing


class TwoStageCrack(ManualCrackDataset):
  """Road crack patches of 96x96 pixels with pixel masks (the two-stage CNN data of Nguyen et al., 2021)."""
  name = "two_stage_crack"
  EXPECTED_SIZE = (96, 96)
  LAYOUT = ("Expected layout: <manual_dir>/train/images/<stem>.<jpg|png>, <manual_dir>/train/masks/"
            "<stem>.png, likewise test/ and optionally val/; every image 96x96.")
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  The 96x96 road-crack patches with pixel masks of Nguyen et al. ("Two-stage convolutional neural network
  for road crack detection and segmentation", Expert Systems with Applications, 2021), as provided by the
  authors; copies differ in folder names, so arrange yours as below (image folder names image/, img/ and
  mask folder names mask/, labels/, gt/ are accepted too).
  {LAYOUT}
  Every image must be 96x96 (other sizes are reported as problems). Use config.data.patch_size=96 or
  less; evaluation runs on the whole 96x96 patches.
  """

  @classmethod
  def list_pairs(cls, root):
    return _split_folder_pairs(cls, root)


class Hrrc(ManualCrackDataset):
  """High-resolution road crack survey images (e.g. 4000x3000 and larger) with pixel masks.

  The imagery the RAN paper targets (Zhang et al., Remote Sensing 2022; crack pixels ~0.14%). Images of
  this size are stored as their own JPEG/PNG bytes; train with config.data.tile_size > 0 so patches are
  cropped from a tiled copy instead of decoding a whole image per patch (crackjax/data/tile_store.py).
  """
  name = "hrrc"
  LAYOUT = ("Expected layout: <manual_dir>/train/images/<stem>.jpg with <manual_dir>/train/masks/"
            "<stem>.png, likewise test/ and optionally val/; or the flat layout images/ + masks/ + "
            "splits.csv (header 'stem,split').")
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  HRRC is not distributed with crackjax: use the survey imagery of Zhang et al. (2022) as obtained from
  its authors, or your own high-resolution road survey images with pixel masks (cracks light on black).
  {LAYOUT}
  """

  @classmethod
  def list_pairs(cls, root):
    if _find_dir(root, ["images"]) is not None and os.path.exists(os.path.join(root, "splits.csv")):
      return CrackFolder.list_pairs(root)
    return _split_folder_pairs(cls, root)


# data.name -> builder class of the real datasets (the registry in sources.py wraps these).
MANUAL_BUILDERS = {"crack_folder": CrackFolder, "cfd": Cfd, "deepcrack": DeepCrack,
                   "crack500": Crack500, "two_stage_crack": TwoStageCrack, "hrrc": Hrrc}

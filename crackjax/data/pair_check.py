"""Finding image/mask pairs in a user's dataset folder and checking every one before anything is prepared.

A builder lists its folder into a `Listing` (pairs by split, plus the layout problems it saw: an image
without a mask, a mask without an image, two images for one stem, a bad `splits.csv` row, ...). `check`
then opens every pair (in a few threads) and adds the content problems: unreadable or truncated files,
image and mask of different sizes, mask values that `mask_encoding` cannot interpret, an image whose bytes
are also in another split (a leak, found by content hash whatever the files are called), and finally every
split left without pairs. All problems are reported in one `ValidationError`, each naming its file and
what is wrong. With `skip_bad_pairs` the pairs with problems are left out and listed instead; problems of
the whole dataset (a wrong folder, an empty split, an unreadable `splits.csv`) are never skippable.
A pair is identified by (split, stem): official releases repeat file names across their split folders.
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import dataclasses
import hashlib
import os
from typing import Callable
from typing import Iterable

import PIL.Image
from absl import logging

from crackjax import errors
from crackjax.data import file_hashes
from crackjax.data import mask_encoding


SPLITS = ("train", "val", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MASK_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".gif", ".jpg", ".jpeg")
# Image modes that convert to 8-bit RGB without losing meaning.
IMAGE_MODES = ("RGB", "L", "P", "RGBA", "LA", "PA", "CMYK", "YCbCr", "1")


@dataclasses.dataclass(frozen=True)
class Pair:
  """One example: `image` and `mask` are paths (absolute). A pair is identified by (`split`, `stem`):
  official releases repeat file names between their split folders (DeepCrack has 10 names in both
  train_img/ and test_img/ for different images), so a stem is unique within its split only."""
  stem: str
  split: str
  image: str
  mask: str


@dataclasses.dataclass(frozen=True)
class Problem:
  """What is wrong with `path` (relative to the dataset folder).

  `stem`: the pair it spoils, if any (None: a problem of the whole dataset, never skippable); `split`:
  that pair's split where the layout fixes it (per-split folders), None where a stem names one pair in
  the whole copy (one flat folder).
  """
  path: str
  message: str
  stem: str | None = None
  split: str | None = None

  def __str__(self) -> str:
    return f"{self.path}: {self.message}"

  @property
  def pair_name(self) -> str:
    """`stem`, or `split/stem` where the split is known."""
    return self.stem if self.split is None else f"{self.split}/{self.stem}"


@dataclasses.dataclass
class Listing:
  """A dataset folder as a builder's layout sees it, before any file is opened.

  Attributes:
    root: the folder (`config.data.manual_dir`).
    pairs: complete pairs (image and mask both present), any order.
    problems: layout problems (missing partners, duplicates, splits.csv rows, wrong folder).
    splits: the splits the layout defines; each must end up with at least one good pair.
    files: every data file the layout read (relative paths), for the fingerprint.
    hash_cache: JSON file caching the files' content hashes (crackjax/data/file_hashes.py); None: no
      cache (every call hashes every file).
  """
  root: str
  pairs: list[Pair] = dataclasses.field(default_factory=list)
  problems: list[Problem] = dataclasses.field(default_factory=list)
  splits: tuple[str, ...] = ()
  files: list[str] = dataclasses.field(default_factory=list)
  hash_cache: str | None = None
  _hashes: dict[str, str] | None = dataclasses.field(default=None, repr=False, compare=False)

  def rel(self, path: str) -> str:
    return os.path.relpath(path, self.root)

  def content_hashes(self) -> dict[str, str]:
    """`{relative path: SHA-1 of the bytes}` of the layout's files (cached by size and mtime)."""
    if self._hashes is None:
      absolute = {os.path.join(self.root, rel): rel for rel in sorted(set(self.files))}
      found = file_hashes.hashes(list(absolute), self.hash_cache)
      self._hashes = {absolute[p]: digest for p, digest in found.items()}
    return self._hashes

  def fingerprint(self) -> str:
    """10 hex digits over the relative paths and content hashes of the layout's files: any file added,
    removed, renamed or changed (even in place, at the same size) changes it."""
    h = hashlib.sha1()
    hashes = self.content_hashes()
    for rel in sorted(set(self.files)):
      h.update(f"{rel}\0{hashes.get(rel, 'missing')}\n".encode())
    return h.hexdigest()[:10]


class ValidationError(errors.UserError):
  """Bad input: the message lists every problem found."""


@dataclasses.dataclass
class Report:
  """The outcome of `check`: the good pairs by split and every problem found."""
  root: str
  pairs: dict[str, list[Pair]]
  problems: list[Problem]

  @property
  def fatal(self) -> list[Problem]:
    return [p for p in self.problems if p.stem is None]

  @property
  def bad_stems(self) -> list[str]:
    """The bad pairs, each as `stem` or `split/stem` (where the layout fixes the split)."""
    return sorted({p.pair_name for p in self.problems if p.stem is not None})

  def skipped(self) -> list[str]:
    """One line per bad pair: `stem: problem; problem` (`split/stem: ...` where the split is known)."""
    by_pair = collections.defaultdict(list)
    for p in self.problems:
      if p.stem is not None:
        by_pair[p.pair_name].append(str(p))
    return [f"{name}: {'; '.join(msgs)}" for name, msgs in sorted(by_pair.items())]

  def raise_if_bad(self, dataset: str, skip_bad_pairs: bool) -> None:
    """Raises ValidationError listing every problem, unless all are skippable and skipping is on."""
    if not self.problems or (skip_bad_pairs and not self.fatal):
      return
    lines = "\n".join(f"  {p}" for p in self.problems)
    n_bad = len(self.bad_stems)
    if self.fatal:
      advice = ("Fix the problems above (see the layout in the dataset's MANUAL_DOWNLOAD_INSTRUCTIONS, "
                "crackjax/data/builders.py, and docs/data.md).")
      if n_bad and not skip_bad_pairs:
        advice += (f" Problems of single pairs ({n_bad} pairs) could be skipped with "
                   f"--config.data.skip_bad_pairs=true; the others cannot.")
    else:
      advice = (f"Fix these files, or pass --config.data.skip_bad_pairs=true to prepare the dataset "
                f"without these {n_bad} pairs (they are then listed in the log at every start).")
    raise ValidationError(
        f"{dataset}: {len(self.problems)} problem(s) in {self.root}; nothing was prepared.\n{lines}\n"
        f"{advice}")


# ------------------------------------------------------------------------------------------------
# Listing helpers used by the builders' layouts.
# ------------------------------------------------------------------------------------------------


def data_files(folder: str, extensions: Iterable[str], listing: Listing) -> list[str]:
  """Sorted absolute paths of the files in `folder` with one of `extensions` (any case).

  Other files are not pairs: they are logged as ignored (hidden files such as .DS_Store silently).
  """
  extensions = tuple(e.lower() for e in extensions)
  out, ignored = [], []
  for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    if name.startswith(".") or not os.path.isfile(path):
      continue
    if name.lower().endswith(extensions):
      out.append(path)
      listing.files.append(listing.rel(path))
    else:
      ignored.append(name)
  if ignored:
    logging.warning("Ignoring %d file(s) in %s that are not %s: %s", len(ignored), folder,
                    "/".join(extensions), ", ".join(ignored[:10]) + (" ..." if len(ignored) > 10 else ""))
  return out


def file_stem(path: str, suffix: str = "") -> str:
  """The file name without folder and extension, and without `suffix` where it ends so."""
  name = os.path.splitext(os.path.basename(path))[0]
  return name[:-len(suffix)] if suffix and name.endswith(suffix) else name


def match_pairs(listing: Listing, images: list[str], masks: list[str],
                split_of: Callable[[str], str] | str, *, mask_suffix: str = "", image_hint: str,
                mask_hint: str) -> None:
  """Adds the pairs of `images` x `masks` matched by stem to `listing`, and a problem for every image
  without a mask, mask without an image, or stem with two images / two masks.

  `split_of`: the split of every pair (a layout with per-split folders; the problems then name it), or
  `split_of(stem)` naming each pair's split (a flat folder; stems are unique in the whole copy).
  `image_hint`/`mask_hint` say where the partner was expected (`{stem}` is filled in).
  """
  fixed = split_of if isinstance(split_of, str) else None
  if fixed is not None:
    split_of = lambda stem: fixed
  problem = lambda path, message, stem: Problem(listing.rel(path), message, stem, fixed)
  by_stem_i, by_stem_m = collections.defaultdict(list), collections.defaultdict(list)
  for p in images:
    by_stem_i[file_stem(p)].append(p)
  for p in masks:
    by_stem_m[file_stem(p, mask_suffix)].append(p)
  for stem in sorted(set(by_stem_i) | set(by_stem_m)):
    ims, mks = by_stem_i.get(stem, []), by_stem_m.get(stem, [])
    if len(ims) > 1:
      listing.problems.append(problem(ims[0], "two or more images for stem "
                                      f"{stem!r}: {[listing.rel(p) for p in ims]}", stem))
    if len(mks) > 1:
      listing.problems.append(problem(mks[0], "two or more masks for stem "
                                      f"{stem!r}: {[listing.rel(p) for p in mks]}", stem))
    if ims and not mks:
      listing.problems.append(problem(ims[0], "image without a mask (expected "
                                      f"{mask_hint.format(stem=stem)})", stem))
    if mks and not ims:
      listing.problems.append(problem(mks[0], "mask without an image (expected "
                                      f"{image_hint.format(stem=stem)})", stem))
    if len(ims) == 1 and len(mks) == 1:
      listing.pairs.append(Pair(stem, split_of(stem), ims[0], mks[0]))


def read_splits_csv(listing: Listing, path: str) -> dict[str, str] | None:
  """`splits.csv` (header `stem,split`) -> {stem: split}; problems go to `listing` (None if unusable)."""
  rel = listing.rel(path)
  listing.files.append(rel)
  try:
    with open(path, newline="") as f:
      rows = list(csv.reader(f))
  except (OSError, UnicodeDecodeError) as e:
    listing.problems.append(Problem(rel, f"unreadable: {e}"))
    return None
  if not rows or [c.strip() for c in rows[0]] != ["stem", "split"]:
    listing.problems.append(Problem(rel, f"first line must be the header 'stem,split', found "
                                    f"{','.join(rows[0]) if rows else 'an empty file'!r}"))
    return None
  out = {}
  for n, row in enumerate(rows[1:], start=2):
    if not row or all(not c.strip() for c in row):
      continue
    if len(row) != 2:
      listing.problems.append(Problem(f"{rel} line {n}", f"expected 'stem,split', found {','.join(row)!r}"))
      continue
    stem, split = row[0].strip(), row[1].strip()
    if split not in SPLITS:
      listing.problems.append(Problem(f"{rel} line {n}", f"split {split!r} of {stem!r} is not one of "
                                      f"{list(SPLITS)}", stem))
    elif stem in out:
      listing.problems.append(Problem(f"{rel} line {n}", f"stem {stem!r} listed twice", stem))
    else:
      out[stem] = split
  return out


def apply_splits_csv(listing: Listing, splits: dict[str, str], csv_rel: str) -> None:
  """Keeps the pairs listed in `splits` (with their split); a problem for every unlisted pair and
  every listed stem without a pair (when no other problem already names it)."""
  named = {p.stem for p in listing.problems if p.stem is not None}
  kept = []
  for pair in listing.pairs:
    if pair.stem in splits:
      kept.append(dataclasses.replace(pair, split=splits[pair.stem]))
    elif pair.stem not in named:
      listing.problems.append(Problem(listing.rel(pair.image), f"pair {pair.stem!r} is not listed in "
                                      f"{csv_rel}", pair.stem))
  have = {p.stem for p in listing.pairs}
  for stem in sorted(set(splits) - have - named):
    listing.problems.append(Problem(csv_rel, f"lists {stem!r} ({splits[stem]}), which has no image "
                                    f"and mask", stem))
  listing.pairs = kept
  listing.splits = tuple(s for s in SPLITS if s in set(splits.values()))


# ------------------------------------------------------------------------------------------------
# Content checks.
# ------------------------------------------------------------------------------------------------


def image_size(path: str) -> tuple[int, int]:
  """(width, height) of a fully decoded image; OSError/ValueError when unreadable or unsupported."""
  with PIL.Image.open(path) as image:
    image.load()        # decodes everything: truncated files fail here
    if image.mode not in IMAGE_MODES:
      raise ValueError(f"image mode {image.mode!r} (e.g. 16-bit or float) is not supported; "
                       f"convert it to 8-bit RGB")
    return image.size


def _check_pair(pair: Pair, root: str, read_mask: Callable, expected_size) -> list[Problem]:
  rel_i, rel_m = os.path.relpath(pair.image, root), os.path.relpath(pair.mask, root)
  problems, size_i, size_m = [], None, None
  problem = lambda path, message: Problem(path, message, pair.stem, pair.split)
  try:
    size_i = image_size(pair.image)
  except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as e:
    problems.append(problem(rel_i, f"unreadable or truncated image: {e}"))
  try:
    mask = read_mask(pair.mask)
    size_m = (mask.shape[1], mask.shape[0])
  except mask_encoding.MaskEncodingError as e:
    problems.append(problem(rel_m, f"mask values cannot be interpreted: {e}"))
  except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as e:
    problems.append(problem(rel_m, f"unreadable or truncated mask: {e}"))
  if size_i and size_m and size_i != size_m:
    problems.append(problem(rel_m, f"size {size_m[0]}x{size_m[1]} (WxH) differs from its image "
                            f"{rel_i} ({size_i[0]}x{size_i[1]})"))
  if expected_size and size_i and size_i != expected_size:
    problems.append(problem(rel_i, f"size {size_i[0]}x{size_i[1]} (WxH), but this dataset's images are "
                            f"{expected_size[0]}x{expected_size[1]}"))
  return problems


def split_leaks(listing: Listing) -> list[Problem]:
  """A problem for every image whose bytes equal an image's in an earlier split (train < val < test),
  whatever the two files are called: the copy in the later split would score the model on an image
  it trained on (or tune on one). The copy in the earliest split is kept. Content hashes: see
  `Listing.content_hashes`."""
  hashes = listing.content_hashes()
  first = {}                                   # hash -> the earliest pair with these bytes
  order = {s: i for i, s in enumerate(SPLITS)}
  problems = []
  for pair in sorted(listing.pairs, key=lambda p: (order[p.split], p.stem)):
    digest = hashes.get(listing.rel(pair.image))
    if digest is None:
      continue
    seen = first.setdefault(digest, pair)
    if seen.split != pair.split:
      problems.append(Problem(
          listing.rel(pair.image), f"the same image (identical bytes) as {listing.rel(seen.image)} in "
          f"split {seen.split!r}: a leak between splits {seen.split!r} and {pair.split!r}; remove one "
          f"copy", pair.stem, pair.split))
  return problems


def check(listing: Listing, read_mask: Callable = mask_encoding.read_mask, *,
          expected_size: tuple[int, int] | None = None, num_threads: int = 4) -> Report:
  """Opens every pair of `listing` and returns the good pairs by split with all problems found.

  Args:
    read_mask: mask file path -> `[H, W] uint8` {0, 1} (raises OSError / MaskEncodingError).
    expected_size: (width, height) every image must have, if the dataset fixes it.
  """
  problems = list(listing.problems)
  with concurrent.futures.ThreadPoolExecutor(max(1, num_threads)) as pool:
    results = list(pool.map(lambda p: _check_pair(p, listing.root, read_mask, expected_size),
                            listing.pairs))
  for found in results:
    problems.extend(found)
  problems.extend(split_leaks(listing))
  # A problem names its pair by stem alone where the stem is in one split only (the usual case).
  splits_of = collections.defaultdict(set)
  for split, stem in [(p.split, p.stem) for p in listing.pairs] + [(p.split, p.stem) for p in problems]:
    if split is not None and stem is not None:
      splits_of[stem].add(split)
  problems = [p if len(splits_of.get(p.stem, ())) > 1 else dataclasses.replace(p, split=None)
              for p in problems]
  bad = {(p.split, p.stem) for p in problems if p.stem is not None}
  spoiled = lambda pair: (pair.split, pair.stem) in bad or (None, pair.stem) in bad
  pairs = {s: sorted((p for p in listing.pairs if p.split == s and not spoiled(p)),
                     key=lambda p: p.stem) for s in listing.splits}
  for split in listing.splits:
    if not pairs[split]:
      n_all = sum(p.split == split for p in listing.pairs)
      why = f"all {n_all} of its pairs have problems" if n_all else "it has no pairs"
      problems.append(Problem(split, f"split {split!r} is empty: {why}"))
  return Report(listing.root, pairs, problems)

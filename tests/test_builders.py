"""The real-data tfds builders: each on a tiny copy written in its official layout, the image -> record ->
patch round trip, and every kind of bad input (all reported at once, nothing prepared)."""

import io
import os
import pathlib

import numpy as np
import PIL.Image
import pytest
import scipy.io

from crackjax import config_base
from crackjax.data import builders
from crackjax.data import input_pipeline
from crackjax.data import pair_check
from crackjax.data import patch_index
from crackjax.data import sources


H, W = 24, 32


def _image(seed: int, h: int = H, w: int = W) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _mask(seed: int, h: int = H, w: int = W) -> np.ndarray:
  m = np.zeros((h, w), np.uint8)
  m[seed % (h - 2) + 1, 2:w - 2] = 1            # one horizontal crack, row depends on the seed
  return m


def _save(path: pathlib.Path, array: np.ndarray, **kw) -> pathlib.Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  PIL.Image.fromarray(array).save(path, **kw)
  return path


def _pair(root: pathlib.Path, image_rel: str, mask_rel: str, seed: int, h: int = H, w: int = W,
          mask_scale: int = 255):
  _save(root / image_rel, _image(seed, h, w), **({"quality": 90} if image_rel.endswith(".jpg") else {}))
  _save(root / mask_rel, _mask(seed, h, w) * mask_scale)


def _data_config(name: str, manual_dir, tfds_dir, **kw):
  d = config_base.base().data
  d.name, d.manual_dir, d.tfds_dir = name, str(manual_dir), str(tfds_dir)
  for k, v in kw.items():
    setattr(d, k, v)
  return d


def _splits_csv(root: pathlib.Path, rows) -> None:
  (root / "splits.csv").write_text("stem,split\n" + "".join(f"{s},{p}\n" for s, p in rows))


def small_copy_config(smoke_config, root, **overrides):
  """configs/smoke.py on a 3-pair crack_folder copy written to `root` (64x64 images: a, b train, c
  test; no val split), with flat `overrides`, for tests that train on real-data code paths."""
  rows = [("a", "train"), ("b", "train"), ("c", "test")]
  for i, (stem, _) in enumerate(rows):
    _pair(root, f"images/{stem}.png", f"masks/{stem}.png", i, h=64, w=64)
  _splits_csv(root, rows)
  config = smoke_config.copy_and_resolve_references()
  config.update_from_flattened_dict({"data.name": "crack_folder", "data.manual_dir": str(root),
                                     "data.patch_size": 32, "data.patch_stride": 16, "eval_every": 0,
                                     **overrides})
  return config


def _records(builder, split):
  src = sources.split_source(builder, split)
  return {str(src[i]["stem"], "utf-8") if isinstance(src[i]["stem"], bytes) else str(src[i]["stem"]):
          src[i] for i in range(len(src))}


# ------------------------------------------------------------------------------------------------
# Each builder on its official layout.
# ------------------------------------------------------------------------------------------------


def test_crack_folder_round_trip_image_record_patch(tmp_path):
  root = tmp_path / "mine"
  rows = [("a", "train"), ("b", "train"), ("c", "val"), ("d", "test")]
  for seed, (stem, _) in enumerate(rows):
    _pair(root, f"images/{stem}.jpg", f"masks/{stem}.png", seed)
  _splits_csv(root, rows)
  builder = sources.get_builder(_data_config("crack_folder", root, tmp_path / "tfds"))
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {
      "train": 2, "val": 1, "test": 1}
  assert builder.builder_config.name.startswith("mine_")
  assert builder.info.metadata["skipped_pairs"] == []

  # Image -> record: JPEG bytes stored as they are; the mask as {0, 1}.
  train = _records(builder, "train")
  raw = sources.split_source(builder, "train", decode_images=False)
  stored = {str(raw[i]["stem"], "utf-8"): raw[i]["image"] for i in range(len(raw))}
  for seed, stem in enumerate("ab"):
    assert stored[stem] == (root / f"images/{stem}.jpg").read_bytes()
    original = np.asarray(PIL.Image.open(root / f"images/{stem}.jpg"))
    np.testing.assert_array_equal(train[stem]["image"], original)
    np.testing.assert_array_equal(train[stem]["mask"][..., 0], _mask(seed))

  # Record -> patch: the index finds the crack, the sampler crops the same pixels.
  source = sources.split_source(builder, "train")
  index = patch_index.build((source[i]["mask"] for i in range(len(source))), patch=16, stride=8)
  assert len(index.pos) and len(index.neg)
  sampler = input_pipeline.PoolSampler(source, index, patch_size=16, global_batch=4, seed=0, augment=False)
  pool, plan = sampler(0), sampler.draw(0)
  for slot in range(4):
    i, y, x = plan["pos"][slot]
    np.testing.assert_array_equal(pool["pos_image"][slot], source[int(i)]["image"][y:y + 16, x:x + 16])
    assert pool["pos_mask"][slot].sum() >= 1


def test_preparing_says_where_the_data_come_from_and_never_says_downloading(tmp_path, capsys, caplog):
  """tfds prints "Downloading and preparing dataset Unknown size ..." for any builder; ours log instead
  that nothing is downloaded, the source (the user's copy, or the generator) and the target folder."""
  root = tmp_path / "mine"
  rows = [("a", "train"), ("b", "test")]
  for seed, (stem, _) in enumerate(rows):
    _pair(root, f"images/{stem}.png", f"masks/{stem}.png", seed)
  _splits_csv(root, rows)
  synthetic = config_base.base().data
  synthetic.tfds_dir = str(tmp_path / "tfds")
  synthetic.synthetic.update(height=64, width=64, num_train=1, num_val=0, num_test=1)
  caplog.set_level("INFO")
  for data_config, source in [(_data_config("crack_folder", root, tmp_path / "tfds"), str(root)),
                              (synthetic, "crackjax's procedural generator")]:
    builder = sources.get_builder(data_config)
    name = f"{builder.name}/{builder.builder_config.name}"
    assert f"Preparing {name} from {source} (nothing is downloaded) in {builder.data_dir} ..." in caplog.text
    assert f"Prepared {name} in " in caplog.text and f"later runs reuse {builder.data_dir}" in caplog.text
  out = capsys.readouterr()
  assert "ownload" not in out.out + out.err


def test_crack_folder_without_splits_csv_splits_by_stem_hash(tmp_path):
  root = tmp_path / "nosplits"
  stems = [f"s{i:02d}" for i in range(30)]
  for i, stem in enumerate(stems):
    _pair(root, f"images/{stem}.png", f"masks/{stem}.png", i, h=8, w=8)
  listing = builders.CrackFolder.listing(str(root))
  assert not listing.problems
  got = {p.stem: p.split for p in listing.pairs}
  assert got == {s: builders._hash_split(s) for s in stems}
  assert set(got.values()) == {"train", "val", "test"}
  assert builders.CrackFolder.listing(str(root)).fingerprint() == listing.fingerprint()


def test_cfd_official_layout_with_mat_ground_truth(tmp_path):
  root = tmp_path / "CrackForest-dataset"
  for n in (1, 60, 61, 73, 118):
    stem = f"{n:03d}"
    _save(root / "image" / f"{stem}.jpg", _image(n), quality=90)
    (root / "groundTruth").mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "groundTruth" / f"{stem}.mat",
                     {"groundTruth": {"Segmentation": _mask(n) + 1, "Boundaries": _mask(n)}})
  builder = sources.get_builder(_data_config("cfd", root, tmp_path / "tfds"))
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {
      "train": 2, "val": 1, "test": 2}
  test = _records(builder, "test")
  np.testing.assert_array_equal(test["118"]["mask"][..., 0], _mask(118))
  assert builders.Cfd.split_of("060") == "train" and builders.Cfd.split_of("072") == "val"


def test_cfd_png_masks_are_accepted(tmp_path):
  root = tmp_path / "cfd_png"
  for n in (3, 65, 100):
    _pair(root, f"image/{n:03d}.jpg", f"groundTruth/{n:03d}.png", n)
  report = pair_check.check(builders.Cfd.listing(str(root)), builders.Cfd.read_mask)
  assert not report.problems
  assert {s: [p.stem for p in v] for s, v in report.pairs.items()} == {
      "train": ["003"], "val": ["065"], "test": ["100"]}


def test_deepcrack_official_layout(tmp_path):
  root = tmp_path / "DeepCrack"
  for i, stem in enumerate(["7Q3A9060-1", "7Q3A9064-3"]):
    _pair(root, f"train_img/{stem}.jpg", f"train_lab/{stem}.png", i)
  _pair(root, "test_img/11125-1.jpg", "test_lab/11125-1.png", 7)
  builder = sources.get_builder(_data_config("deepcrack", root, tmp_path / "tfds"))
  assert sorted(builder.info.splits) == ["test", "train"]
  assert builder.info.splits["train"].num_examples == 2
  np.testing.assert_array_equal(_records(builder, "test")["11125-1"]["mask"][..., 0], _mask(7))


def test_crack500_official_crop_folders(tmp_path):
  root = tmp_path / "CRACK500"
  for i, (folder, stem) in enumerate([("traincrop", "20160222_081011_1_361"),
                                      ("traincrop", "20160222_081011_1281_721"),
                                      ("valcrop", "20160222_080850_1_361"),
                                      ("testcrop", "20160222_080933_361_1")]):
    _pair(root, f"{folder}/{stem}.jpg", f"{folder}/{stem}_mask.png", i)
  builder = sources.get_builder(_data_config("crack500", root, tmp_path / "tfds"))
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {
      "train": 2, "val": 1, "test": 1}
  np.testing.assert_array_equal(_records(builder, "val")["20160222_080850_1_361"]["mask"][..., 0],
                                _mask(2))


def test_two_stage_crack_96px_patches(tmp_path):
  root = tmp_path / "two_stage"
  for i, split in enumerate(["train", "train", "test"]):
    _pair(root, f"{split}/images/p{i}.png", f"{split}/masks/p{i}.png", i, h=96, w=96, mask_scale=1)
  builder = sources.get_builder(_data_config("two_stage_crack", root, tmp_path / "tfds"))
  assert builder.info.splits["train"].num_examples == 2
  rec = _records(builder, "test")["p2"]
  assert rec["image"].shape == (96, 96, 3)
  np.testing.assert_array_equal(rec["mask"][..., 0], _mask(2, 96, 96))
  # A patch of another size is a problem of that pair.
  _pair(root, "train/images/big.png", "train/masks/big.png", 9, h=100, w=96)
  problems = pair_check.check(builders.TwoStageCrack.listing(str(root)), expected_size=(96, 96)).problems
  assert [str(p) for p in problems] == [
      "train/images/big.png: size 96x100 (WxH), but this dataset's images are 96x96"]


def test_hrrc_split_folders_and_flat_layout(tmp_path):
  root = tmp_path / "hrrc"
  for i, split in enumerate(["train", "val", "test"]):
    _pair(root, f"{split}/images/road{i}.jpg", f"{split}/masks/road{i}.png", i, h=64, w=80)
  builder = sources.get_builder(_data_config("hrrc", root, tmp_path / "tfds"))
  assert sorted(builder.info.splits) == ["test", "train", "val"]
  flat = tmp_path / "hrrc_flat"
  for i, split in enumerate(["train", "test"]):
    _pair(flat, f"images/r{i}.jpg", f"masks/r{i}.png", i)
  _splits_csv(flat, [("r0", "train"), ("r1", "test")])
  listing = builders.Hrrc.listing(str(flat))
  assert not listing.problems and {p.split for p in listing.pairs} == {"train", "test"}


def test_non_rgb_images_are_stored_as_rgb_png(tmp_path):
  root = tmp_path / "grey"
  for i, (stem, split) in enumerate([("g", "train"), ("t", "test")]):
    _save(root / f"images/{stem}.png", _image(i)[..., 0])          # 8-bit grey PNG
    _save(root / f"masks/{stem}.png", _mask(i) * 255)
  _splits_csv(root, [("g", "train"), ("t", "test")])
  rec = _records(sources.get_builder(_data_config("crack_folder", root, tmp_path / "tfds")), "train")["g"]
  assert rec["image"].shape == (H, W, 3)
  np.testing.assert_array_equal(rec["image"], np.repeat(_image(0)[..., :1], 3, -1))


def test_every_builder_is_registered_and_documents_its_source():
  for name, cls in builders.MANUAL_BUILDERS.items():
    assert name in sources.DATASETS.names() and cls.name == name
    assert "manual_dir" in cls.MANUAL_DOWNLOAD_INSTRUCTIONS and cls.LAYOUT


# ------------------------------------------------------------------------------------------------
# Bad input.
# ------------------------------------------------------------------------------------------------


def _bad_copy(root: pathlib.Path) -> None:
  """One copy with every kind of pair problem, plus a split left empty."""
  _pair(root, "images/good1.jpg", "masks/good1.png", 1)
  _pair(root, "images/good2.jpg", "masks/good2.png", 2)
  _save(root / "images/lonely_image.jpg", _image(3), quality=90)                    # no mask
  _save(root / "masks/lonely_mask.png", _mask(4) * 255)                              # no image
  _pair(root, "images/mismatch.jpg", "masks/mismatch.png", 5)
  _save(root / "masks/mismatch.png", _mask(5, H, W + 4) * 255)                       # size mismatch
  _pair(root, "images/truncated.png", "masks/truncated.png", 6)
  data = (root / "images/truncated.png").read_bytes()
  (root / "images/truncated.png").write_bytes(data[:len(data) // 2])                 # truncated
  _pair(root, "images/garbage.jpg", "masks/garbage.png", 7)
  (root / "masks/garbage.png").write_bytes(b"this is not a png")                     # unreadable
  _pair(root, "images/labels.jpg", "masks/labels.png", 8)
  _save(root / "masks/labels.png", np.arange(H * W, dtype=np.uint8).reshape(H, W) % 3)  # values 0,1,2
  _pair(root, "images/valonly.jpg", "masks/valonly.png", 9)
  _save(root / "masks/valonly.png", (1 - _mask(9)) * 255)                            # inverted
  _splits_csv(root, [("good1", "train"), ("good2", "test"), ("lonely_image", "train"),
                     ("lonely_mask", "train"), ("mismatch", "train"), ("truncated", "train"),
                     ("garbage", "train"), ("labels", "train"), ("valonly", "val")])


EXPECTED = [
    ("images/lonely_image.jpg", "image without a mask (expected masks/lonely_image.png)"),
    ("masks/lonely_mask.png", "mask without an image"),
    ("masks/mismatch.png", "size 36x24 (WxH) differs from its image images/mismatch.jpg (32x24)"),
    ("images/truncated.png", "unreadable or truncated image"),
    ("masks/garbage.png", "unreadable or truncated mask"),
    ("masks/labels.png", "mask values cannot be interpreted"),
    ("masks/valonly.png", "inverted mask"),
    ("val", "split 'val' is empty: all 1 of its pairs have problems"),
]


def test_every_problem_is_reported_at_once_and_nothing_is_prepared(tmp_path):
  root = tmp_path / "bad"
  _bad_copy(root)
  tfds_dir = tmp_path / "tfds"
  with pytest.raises(pair_check.ValidationError) as err:
    sources.get_builder(_data_config("crack_folder", root, tfds_dir))
  message = str(err.value)
  for path, what in EXPECTED:
    assert any(line.strip().startswith(f"{path}:") and what in line for line in message.splitlines()), (
        f"{path}: {what!r} missing from\n{message}")
  assert "8 problem(s)" in message and "nothing was prepared" in message
  assert "skip_bad_pairs=true" in message and "cannot" in message      # the empty split is fatal
  prepared = list((tfds_dir / "crack_folder").glob("*/1.0.0/dataset_info.json"))
  assert prepared == []


def test_skip_bad_pairs_prepares_the_rest_and_lists_them(tmp_path, caplog):
  root = tmp_path / "bad"
  _bad_copy(root)
  os.remove(root / "images/valonly.jpg")       # the val split disappears with its only (bad) pair...
  os.remove(root / "masks/valonly.png")
  rows = (root / "splits.csv").read_text().splitlines()
  (root / "splits.csv").write_text("\n".join(r for r in rows if not r.startswith("valonly")) + "\n")
  tfds_dir = tmp_path / "tfds"
  with pytest.raises(pair_check.ValidationError, match="Fix these files, or pass"):
    sources.get_builder(_data_config("crack_folder", root, tfds_dir))
  builder = sources.get_builder(_data_config("crack_folder", root, tfds_dir, skip_bad_pairs=True))
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {"train": 1, "test": 1}
  skipped = builder.info.metadata["skipped_pairs"]
  assert [line.split(":")[0] for line in skipped] == [
      "garbage", "labels", "lonely_image", "lonely_mask", "mismatch", "truncated"]
  # The prepared copy lacks pairs: reusing it without skip_bad_pairs is refused, naming them.
  with pytest.raises(pair_check.ValidationError, match="lacks these 6 bad pairs"):
    sources.get_builder(_data_config("crack_folder", root, tfds_dir))


def test_splits_csv_problems(tmp_path):
  root = tmp_path / "csv"
  _pair(root, "images/a.jpg", "masks/a.png", 1)
  _pair(root, "images/b.jpg", "masks/b.png", 2)
  _pair(root, "images/c.jpg", "masks/c.png", 3)
  _splits_csv(root, [("a", "train"), ("b", "training"), ("a", "test"), ("ghost", "test")])
  problems = [str(p) for p in builders.CrackFolder.listing(str(root)).problems]
  assert problems == [
      "splits.csv line 3: split 'training' of 'b' is not one of ['train', 'val', 'test']",
      "splits.csv line 4: stem 'a' listed twice",
      "images/c.jpg: pair 'c' is not listed in splits.csv",
      "splits.csv: lists 'ghost' (test), which has no image and mask"]
  (root / "splits.csv").write_text("name,set\na,train\n")
  problems = [str(p) for p in builders.CrackFolder.listing(str(root)).problems]
  assert problems == ["splits.csv: first line must be the header 'stem,split', found 'name,set'"]


def test_wrong_manual_dir(tmp_path):
  d = _data_config("crack_folder", tmp_path / "does_not_exist", tmp_path / "tfds")
  with pytest.raises(pair_check.ValidationError, match="does_not_exist: config.data.manual_dir does not "
                     "exist or is not a folder. Expected layout"):
    sources.get_builder(d)
  with pytest.raises(ValueError, match="config.data.manual_dir, which is empty"):
    sources.get_builder(_data_config("cfd", "", tmp_path / "tfds"))
  # The layout one level down: the message says where to point.
  _pair(tmp_path / "outer" / "DeepCrack", "train_img/a.jpg", "train_lab/a.png", 0)
  _pair(tmp_path / "outer" / "DeepCrack", "test_img/b.jpg", "test_lab/b.png", 1)
  with pytest.raises(pair_check.ValidationError, match=r"no folder train_img/\. It is in .*DeepCrack: "
                     "point config.data.manual_dir there"):
    sources.get_builder(_data_config("deepcrack", tmp_path / "outer", tmp_path / "tfds"))
  # A folder in another builder's layout: every missing folder is named.
  with pytest.raises(pair_check.ValidationError, match="no folder test_lab/"):
    sources.get_builder(_data_config("deepcrack", tmp_path / "outer" / "DeepCrack" / "train_img",
                                      tmp_path / "tfds"))


def test_a_changed_copy_is_prepared_afresh(tmp_path):
  root = tmp_path / "grows"
  rows = [("a", "train"), ("b", "test")]
  for i, (stem, _) in enumerate(rows):
    _pair(root, f"images/{stem}.png", f"masks/{stem}.png", i)
  _splits_csv(root, rows)
  first = sources.get_builder(_data_config("crack_folder", root, tmp_path / "tfds"))
  _pair(root, "images/c.png", "masks/c.png", 2)
  _splits_csv(root, rows + [("c", "train")])
  second = sources.get_builder(_data_config("crack_folder", root, tmp_path / "tfds"))
  assert first.data_dir != second.data_dir
  assert second.info.splits["train"].num_examples == 2


def test_image_record_bytes_keeps_jpeg_and_png_and_converts_the_rest(tmp_path):
  rgb = _image(0)
  jpg = _save(tmp_path / "a.jpg", rgb, quality=90)
  png = _save(tmp_path / "a.png", rgb)
  bmp = _save(tmp_path / "a.bmp", rgb)
  rgba = _save(tmp_path / "b.png", np.dstack([rgb, np.full((H, W), 7, np.uint8)]))
  assert builders.image_record_bytes(str(jpg)) == jpg.read_bytes()
  assert builders.image_record_bytes(str(png)) == png.read_bytes()
  for path in (bmp, rgba):
    out = PIL.Image.open(io.BytesIO(builders.image_record_bytes(str(path))))
    assert out.format == "PNG" and out.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(out), rgb)



# ------------------------------------------------------------------------------------------------
# Official releases as distributed: a pair is (split, stem); leaks are found by content.
# ------------------------------------------------------------------------------------------------


_LAYOUTS = {   # (split, stem) -> (image, mask) paths in each builder's official layout
    "deepcrack": lambda split, stem: (f"{split}_img/{stem}.jpg", f"{split}_lab/{stem}.png"),
    "crack500": lambda split, stem: (f"{split}crop/{stem}.jpg", f"{split}crop/{stem}_mask.png"),
    "two_stage_crack": lambda split, stem: (f"{split}/images/{stem}.png", f"{split}/masks/{stem}.png"),
    "hrrc": lambda split, stem: (f"{split}/images/{stem}.jpg", f"{split}/masks/{stem}.png"),
    "crack_folder": lambda split, stem: (f"images/{stem}.jpg", f"masks/{stem}.png"),
}


def _copy(root, name: str, pairs) -> None:
  """A copy in `name`'s layout with `pairs` = [(split, stem, seed)] (96x96 images, as two_stage needs)."""
  for split, stem, seed in pairs:
    _pair(root, *_LAYOUTS[name](split, stem), seed, h=96, w=96)
  if name == "crack_folder":
    _splits_csv(root, [(stem, split) for split, stem, _ in pairs])


@pytest.mark.parametrize("name", ["deepcrack", "crack500", "two_stage_crack", "hrrc"])
def test_a_file_name_in_two_splits_for_different_images_is_two_pairs(tmp_path, name):
  """The DeepCrack release has 10 names (e.g. 11289-1.jpg) in both train_img/ and test_img/ for
  different images: each split keeps its own."""
  root = tmp_path / name
  _copy(root, name, [("train", "11289-1", 1), ("train", "7Q3A9060-1", 2), ("test", "11289-1", 3)])
  builder = sources.get_builder(_data_config(name, root, tmp_path / "tfds"))
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {"train": 2, "test": 1}
  np.testing.assert_array_equal(_records(builder, "train")["11289-1"]["mask"][..., 0], _mask(1, 96, 96))
  np.testing.assert_array_equal(_records(builder, "test")["11289-1"]["mask"][..., 0], _mask(3, 96, 96))


@pytest.mark.parametrize("name", sorted(_LAYOUTS))
def test_the_same_image_in_two_splits_is_a_leak_naming_both_files(tmp_path, name):
  """Found by content: the test copy has another name (and its own mask), the bytes are the train image's."""
  root = tmp_path / name
  _copy(root, name, [("train", "a", 1), ("train", "b", 2), ("test", "c", 3), ("test", "d", 4)])
  train_a, test_d = _LAYOUTS[name]("train", "a")[0], _LAYOUTS[name]("test", "d")[0]
  (root / test_d).write_bytes((root / train_a).read_bytes())
  tfds_dir = tmp_path / "tfds"
  with pytest.raises(pair_check.ValidationError) as err:
    sources.get_builder(_data_config(name, root, tfds_dir))
  assert (f"  {test_d}: the same image (identical bytes) as {train_a} in split 'train': a leak between "
          f"splits 'train' and 'test'; remove one copy") in str(err.value).splitlines(), str(err.value)
  assert list(tfds_dir.glob(f"{name}/*/1.0.0/dataset_info.json")) == []
  # Skippable like any bad pair: the test copy is left out, the train image kept.
  builder = sources.get_builder(_data_config(name, root, tfds_dir, skip_bad_pairs=True))
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {"train": 2, "test": 1}


def test_a_mask_replaced_in_place_by_one_of_the_same_size_is_prepared_afresh(tmp_path):
  """The fingerprint hashes the files' bytes: a same-size BMP mask with other cracks (the old
  fingerprint, paths and sizes, missed it) gives a new prepared copy with the new mask."""
  root = tmp_path / "inplace"
  _pair(root, "images/a.png", "masks/a.bmp", 1)
  _pair(root, "images/b.png", "masks/b.bmp", 2)
  _splits_csv(root, [("a", "train"), ("b", "test")])
  tfds_dir = tmp_path / "tfds"
  first = sources.get_builder(_data_config("crack_folder", root, tfds_dir))
  size, mtime = os.path.getsize(root / "masks/a.bmp"), os.stat(root / "masks/a.bmp").st_mtime_ns
  _save(root / "masks/a.bmp", _mask(9) * 255)
  os.utime(root / "masks/a.bmp", ns=(mtime + 10**9, mtime + 10**9))   # a later write, whatever the clock
  assert os.path.getsize(root / "masks/a.bmp") == size
  second = sources.get_builder(_data_config("crack_folder", root, tfds_dir))
  assert first.data_dir != second.data_dir
  np.testing.assert_array_equal(_records(second, "train")["a"]["mask"][..., 0], _mask(9))
  np.testing.assert_array_equal(_records(first, "train")["a"]["mask"][..., 0], _mask(1))


def test_content_hashes_are_cached_by_size_and_mtime(tmp_path, monkeypatch):
  from crackjax.data import file_hashes
  paths = [str(tmp_path / f"f{i}") for i in range(3)]
  for i, p in enumerate(paths):
    pathlib.Path(p).write_bytes(bytes([i]) * 100)
  hashed = []
  real = file_hashes.sha1_file
  monkeypatch.setattr(file_hashes, "sha1_file", lambda p: hashed.append(p) or real(p))
  cache = str(tmp_path / "cache" / "hashes.json")
  first = file_hashes.hashes(paths, cache)
  assert sorted(hashed) == paths and len(set(first.values())) == 3
  hashed.clear()
  assert file_hashes.hashes(paths, cache) == first and hashed == []      # a start only stats the files
  pathlib.Path(paths[1]).write_bytes(b"\x07" * 100)                       # same size, new bytes
  mtime = os.stat(paths[1]).st_mtime_ns
  os.utime(paths[1], ns=(mtime + 10**9, mtime + 10**9))
  again = file_hashes.hashes(paths, cache)
  assert hashed == [paths[1]] and again[paths[1]] != first[paths[1]] and again[paths[0]] == first[paths[0]]


def test_ambiguous_masks_fail_naming_the_file_and_values_unless_accepted(tmp_path):
  """{0, 1, 2, 128}: values 1 and 2 are not the soft edge of the crack at 128 (rule 3c of
  crackjax/data/mask_encoding.py), so preparation stops naming the file; with
  data.ambiguous_masks=threshold it is accepted, cut at 128, into a copy of its own."""
  root = tmp_path / "labels"
  _pair(root, "images/a.png", "masks/a.png", 1, h=64, w=64)
  _pair(root, "images/b.png", "masks/b.png", 2, h=64, w=64)
  labels = np.zeros((64, 64), np.uint8)
  labels[5, 2:60], labels[30, 2:60], labels[55, 2:60] = 128, 1, 2
  _save(root / "masks/a.png", labels)
  _splits_csv(root, [("a", "train"), ("b", "test")])
  tfds_dir = tmp_path / "tfds"
  with pytest.raises(pair_check.ValidationError, match=r"masks/a.png: mask values cannot be interpreted: "
                     r"mask has 4 grey values \{0, 1, 2, 128\}: 116 pixels with values \{1, 2\}"):
    sources.get_builder(_data_config("crack_folder", root, tfds_dir))
  builder = sources.get_builder(_data_config("crack_folder", root, tfds_dir, ambiguous_masks="threshold"))
  assert "thresholdmasks" in builder.builder_config.name
  np.testing.assert_array_equal(_records(builder, "train")["a"]["mask"][..., 0], labels >= 128)

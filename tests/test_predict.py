"""`crackjax.predict` on a trained smoke run: outputs at the input's size, agreement of the sliding
window with full-image inference, measurements, the summary, bad inputs, the command line.

The 4096x4096 and 8000x6000 runs (speed, peak RSS) are in benchmarks/predict.py: on this 2-core
machine they take minutes. Here: an odd-sized 1000x700 image (several tiles) and a 300x200 one (one
tile, padded), with 4 fake devices so tile batches are sharded.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

from crackjax import errors
from crackjax.data import synthetic
from crackjax.inference import image_files
from crackjax.inference import predict_folder
from crackjax.inference import restored_run
from crackjax.inference import sliding_window
from crackjax.training import parallel


@pytest.fixture(scope="module")
def images(tmp_path_factory):
  folder = tmp_path_factory.mktemp("predict_in")
  big, _ = synthetic.generate(0, 7, synthetic.SyntheticSpec(height=700, width=1000))
  small, _ = synthetic.generate(0, 8, synthetic.SyntheticSpec(height=300, width=200))
  PIL.Image.fromarray(big).save(folder / "road_a.png")
  PIL.Image.fromarray(small).save(folder / "road_b.jpg", quality=95)
  (folder / "notes.txt").write_text("not an image")
  return folder


@pytest.fixture(scope="module")
def restored(trained_workdir):
  return restored_run.restore(str(trained_workdir))


@pytest.fixture(scope="module")
def folder_run(trained_workdir, images, tmp_path_factory):
  out = tmp_path_factory.mktemp("predict_out")
  reports = predict_folder.run(str(trained_workdir), str(images), str(out), mm_per_pixel=0.5,
                        progress_bar=False)
  return out, reports


def _full_image_probs(restored, image, multiple=32):
  """Reference: the whole image at once, padded as the full-image evaluation pads."""
  h, w = image.shape[:2]
  padded = np.pad(image, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="symmetric")
  batch = np.zeros((4,) + padded.shape, np.uint8)
  batch[0] = padded
  out = restored.predict(restored.state, parallel.to_global({"x": batch}, restored.batch_sharding)["x"])
  return np.asarray(out)[0, :h, :w]


def test_writes_maps_at_the_input_size_json_and_summary(folder_run, images):
  out, reports = folder_run
  assert [os.path.basename(r["input"]) for r in reports] == ["road_a.png", "road_b.jpg"]
  for name, (h, w) in (("road_a", (700, 1000)), ("road_b", (300, 200))):
    prob = np.asarray(PIL.Image.open(out / f"{name}_prob.png"))
    mask = np.asarray(PIL.Image.open(out / f"{name}_mask.png"))
    over = np.asarray(PIL.Image.open(out / f"{name}_overlay.png"))
    assert prob.shape == mask.shape == (h, w) and over.shape == (h, w, 3)
    assert prob.dtype == mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    # mask = (p >= 0.5) and prob = round(255 p) agree up to the 8-bit rounding.
    assert np.all(prob[mask == 255] >= 128) and np.all(mask[prob >= 129] == 255)
    # The overlay is the image, with crack pixels tinted red.
    original = np.asarray(PIL.Image.open(images / (name + (".png" if name == "road_a" else ".jpg"))).convert("RGB"))
    np.testing.assert_array_equal(over[mask == 0], original[mask == 0])
    if (mask == 255).any():
      assert over[mask == 255][:, 0].mean() > original[mask == 255][:, 0].mean()

    with open(out / f"{name}.json") as f:
      rep = json.load(f)
    assert (rep["height"], rep["width"]) == (h, w)
    assert rep["crack_pixels"] == int(np.sum(mask == 255))
    q = rep["quantification"]
    assert q["area_px"] <= rep["crack_pixels"]  # specks below min_segment_px are dropped
    assert q["length_mm"] == pytest.approx(0.5 * q["length_px"])
    assert q["jtg"] is not None and "pci" in q["jtg"]
    for key in ("probability", "mask", "overlay", "megapixels_per_s"):
      assert key in rep["conventions"]

  with open(out / "summary.csv") as f:
    rows = list(csv.DictReader(f))
  assert [os.path.basename(r["input"]) for r in rows] == ["road_a.png", "road_b.jpg"]
  assert float(rows[0]["length_mm"]) == pytest.approx(reports[0]["quantification"]["length_mm"])


def test_tiled_prediction_matches_full_image_inference(restored, images, folder_run):
  """1000x700 with 512-px tiles: 6 tiles, 4 fake devices; the blended map stays within one 8-bit
  level of the whole image predicted at once (measured: max 1 level, 0 mask pixels differ), and a
  one-tile image is the full-image prediction."""
  out, _ = folder_run
  for name in ("road_a.png", "road_b.jpg"):
    image = image_files.read_image(str(images / name))
    full = _full_image_probs(restored, image)
    prob = np.asarray(PIL.Image.open(out / (os.path.splitext(name)[0] + "_prob.png"))).astype(int)
    mask = np.asarray(PIL.Image.open(out / (os.path.splitext(name)[0] + "_mask.png"))) == 255
    assert np.abs(prob - np.rint(full * 255).astype(int)).max() <= 1, name
    assert np.mean(mask != (full >= 0.5)) < 1e-4, name


def test_hard_tile_edges_would_show(restored, images):
  """The same image without overlap/margin deviates far more: the comparison above can fail."""
  image = image_files.read_image(str(images / "road_a.png"))
  full = _full_image_probs(restored, image)
  prob, _ = sliding_window.predict_image(restored.predict, restored.state, restored.batch_sharding, image,
                                  threshold=0.5, settings=sliding_window.TileSettings(128, 0, 0, 4), multiple=32)
  assert np.abs(prob.astype(int) - np.rint(full * 255).astype(int)).max() > 1


def test_tile_batch_and_device_sharding_do_not_change_the_result(restored, images):
  image = image_files.read_image(str(images / "road_a.png"))
  a, ma = sliding_window.predict_image(restored.predict, restored.state, restored.batch_sharding, image,
                                threshold=0.5, settings=sliding_window.TileSettings(256, 64, 16, 1), multiple=32)
  b, mb = sliding_window.predict_image(restored.predict, restored.state, restored.batch_sharding, image,
                                threshold=0.5, settings=sliding_window.TileSettings(256, 64, 16, 12), multiple=32)
  assert np.abs(a.astype(int) - b.astype(int)).max() <= 1 and np.mean(ma != mb) < 1e-4


def test_bad_inputs_are_refused_with_a_reason(trained_workdir, images, tmp_path):
  wd = str(trained_workdir)
  with pytest.raises(FileNotFoundError, match="does not exist"):
    predict_folder.run(wd, str(tmp_path / "missing.png"), str(tmp_path / "o"), progress_bar=False)
  (tmp_path / "empty").mkdir()
  with pytest.raises(FileNotFoundError, match="without images"):
    predict_folder.run(wd, str(tmp_path / "empty"), str(tmp_path / "o"), progress_bar=False)
  with pytest.raises(ValueError, match="is the input folder"):
    predict_folder.run(wd, str(images), str(images), progress_bar=False)
  with pytest.raises(ValueError, match="tile_size=500"):
    predict_folder.run(wd, str(images), str(tmp_path / "o"), settings=sliding_window.TileSettings(500),
                progress_bar=False)
  with pytest.raises(ValueError, match="mm_per_pixel"):
    predict_folder.run(wd, str(images), str(tmp_path / "o"), mm_per_pixel=-1.0, progress_bar=False)
  PIL.Image.fromarray(np.zeros((40, 40), np.uint16) + 1000).save(tmp_path / "deep.png")
  with pytest.raises(ValueError, match="8-bit"):
    image_files.read_image(str(tmp_path / "deep.png"))
  (tmp_path / "fake.png").write_text("not a png")
  with pytest.raises(ValueError, match="not an image"):
    image_files.read_image(str(tmp_path / "fake.png"))


def test_command_line(repo, trained_workdir, images, tmp_path):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
  out = tmp_path / "cli"
  cmd = [sys.executable, "-m", "crackjax.predict", "--workdir", str(trained_workdir),
         "--input", str(images / "road_b.jpg"), "--output", str(out), "--threshold", "0.6",
         "--mm_per_pixel", "1.5", "--tile_size", "128", "--overlap", "64", "--margin", "16"]
  proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  with open(out / "road_b.json") as f:
    rep = json.load(f)
  assert rep["threshold"] == 0.6 and rep["mm_per_pixel"] == 1.5
  assert rep["tiling"]["tile_size"] == 128 and rep["tiling"]["devices"] == 2
  assert "megapixels/s" in proc.stderr and "tile" in proc.stderr  # summary line, progress bar
  assert sorted(os.listdir(out)) == ["report.html", "road_b.json", "road_b_mask.png", "road_b_overlay.png",
                                     "road_b_overlay_small.jpg", "road_b_prob.png", "summary.csv"]


def test_exif_orientation_and_grey_images_are_read_as_displayed_rgb(tmp_path):
  a = np.zeros((20, 40, 3), np.uint8)
  a[:, :5] = 255  # a white band on the left of the stored pixels
  im = PIL.Image.fromarray(a)
  exif = im.getexif()
  exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
  im.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
  b = image_files.read_image(str(tmp_path / "rotated.jpg"))
  assert b.shape == (40, 20, 3) and b[:5].mean() > 250 and b[-5:].mean() < 5  # the band is on top
  PIL.Image.fromarray(np.full((30, 50), 77, np.uint8)).save(tmp_path / "grey.png")
  g = image_files.read_image(str(tmp_path / "grey.png"))
  assert g.shape == (30, 50, 3) and g.flags.writeable and np.all(g == 77)


def test_a_folder_with_bad_files_predicts_every_good_one_and_lists_the_bad(trained_workdir, tmp_path, caplog):
  """A truncated JPEG and a non-image among good images: each is named when met, every good image is
  predicted (before and after them), and the error at the end lists the bad ones."""
  folder, out = tmp_path / "in", tmp_path / "out"
  folder.mkdir()
  good, _ = synthetic.generate(0, 9, synthetic.SyntheticSpec(height=64, width=96))
  PIL.Image.fromarray(good).save(folder / "a.png")
  PIL.Image.fromarray(good).save(folder / "b.jpg", quality=90)
  (folder / "b.jpg").write_bytes((folder / "b.jpg").read_bytes()[:300])     # truncated
  PIL.Image.fromarray(good).save(folder / "c.png")
  (folder / "d.png").write_text("not a png")
  with caplog.at_level("ERROR"), pytest.raises(errors.SkippedInputsError) as e:
    predict_folder.run(str(trained_workdir), str(folder), str(out), progress_bar=False)
  message = str(e.value)
  assert message.startswith("2 of 4 input image(s) could not be read and were skipped: ")
  assert f"{folder / 'b.jpg'}, {folder / 'd.png'}" in message and "the other 2 were predicted" in message
  assert [os.path.basename(r["input"]) for r in e.value.result] == ["a.png", "c.png"]
  skipped = [line for line in caplog.text.splitlines() if "Skipping" in line]
  assert len(skipped) == 2 and "b.jpg" in skipped[0] and "truncated" in skipped[0] and "d.png" in skipped[1]
  for stem in ("a", "c"):
    assert (out / f"{stem}_mask.png").exists() and (out / f"{stem}.json").exists()
  with open(out / "summary.csv") as f:
    assert [os.path.basename(r["input"]) for r in csv.DictReader(f)] == ["a.png", "c.png"]

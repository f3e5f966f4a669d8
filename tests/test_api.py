"""The Python API (crackjax.load / predict / segment / measure), model folders and the shipped models.

A model folder is written from the session's trained smoke run; the shipped models are loaded from the
package itself and run on small images. The README's Python example is executed as written.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import crackjax
from crackjax import errors
from crackjax import pretrained
from crackjax.data import synthetic
from crackjax.inference import model_folder
from crackjax.inference import restored_run
from crackjax.inference import sliding_window
from crackjax.training import parallel

SETTINGS = sliding_window.TileSettings(tile_size=128, overlap=64, margin=16, tile_batch=4)


@pytest.fixture(scope="module")
def folder(trained_workdir, tmp_path_factory):
  out = tmp_path_factory.mktemp("model_folder") / "smoke_model"
  model_folder.write(str(trained_workdir), str(out), card={"summary": "the smoke run"})
  return out


@pytest.fixture(scope="module")
def image():
  img, _ = synthetic.generate(0, 3, synthetic.SyntheticSpec(height=200, width=300))
  return img


def test_import_crackjax_stays_light(repo):
  code = "import sys, crackjax; assert 'jax' not in sys.modules, 'jax imported'; print(crackjax.__all__)"
  proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  assert "load" in proc.stdout and "measure" in proc.stdout


def test_model_folder_predicts_exactly_as_the_workdir(trained_workdir, folder):
  a = restored_run.restore(str(trained_workdir))
  b = restored_run.restore(str(folder))
  assert b.step == a.step and b.selected_by == a.selected_by
  card = model_folder.read_card(str(folder))
  assert card["summary"] == "the smoke run" and card["checkpoint_step"] == a.step
  assert card["weights_bytes"] == os.path.getsize(folder / model_folder.WEIGHTS)
  x = np.random.default_rng(0).integers(0, 256, (4, 64, 96, 3), dtype=np.uint8)
  pa = np.asarray(a.predict(a.state, parallel.to_global({"x": x}, a.batch_sharding)["x"]))
  pb = np.asarray(b.predict(b.state, parallel.to_global({"x": x}, b.batch_sharding)["x"]))
  np.testing.assert_array_equal(pa, pb)
  with pytest.raises(errors.UserError, match="checkpoint_step"):
    restored_run.restore(str(folder), step=a.step + 1)


def test_predict_is_the_cli_sliding_window(trained_workdir, image):
  model = crackjax.load(str(trained_workdir), settings=SETTINGS)
  prob = model.predict(image)
  assert prob.shape == image.shape[:2] and prob.dtype == np.float32
  assert 0.0 <= prob.min() and prob.max() <= 1.0
  r = restored_run.restore(str(trained_workdir))
  prob8, mask = sliding_window.predict_image(r.predict, r.state, r.batch_sharding, image, threshold=0.3,
                                             settings=SETTINGS, multiple=32)
  np.testing.assert_array_equal(np.rint(np.clip(prob, 0.0, 1.0) * 255.0).astype(np.uint8), prob8)
  np.testing.assert_array_equal(model.segment(image, threshold=0.3), mask)
  np.testing.assert_array_equal(model.segment(image), prob >= np.float64(model.threshold))
  assert model.threshold == r.config.eval.threshold and "unet" in repr(model)


def test_user_mistakes_are_named(trained_workdir, image):
  with pytest.raises(errors.UserError, match="no_such_model.*neither a shipped model"):
    crackjax.load("no_such_model")
  model = crackjax.load(str(trained_workdir), settings=SETTINGS)
  with pytest.raises(errors.UserError, match=r"\[H, W, 3\] uint8.*float32"):
    model.predict(image.astype(np.float32))
  with pytest.raises(errors.UserError, match=r"shape \(200, 300\)"):
    model.predict(image[..., 0])
  with pytest.raises(errors.UserError, match="threshold"):
    model.segment(image, threshold=2.0)
  with pytest.raises(errors.UserError, match="tile_size"):
    crackjax.load(str(trained_workdir), settings=sliding_window.TileSettings(tile_size=100))


def test_measure_reports_length_and_width_in_mm():
  mask = np.zeros((64, 256), bool)
  mask[30:33, 20:220] = True   # a 200 x 3 px transverse bar
  q = crackjax.measure(mask, mm_per_pixel=2.0)
  assert q.n_segments == 1 and q.orientation == "transverse"
  assert abs(q.length_px - 200) <= 2 and abs(q.length_mm - 2 * q.length_px) < 1e-9
  assert abs(q.mean_width_px - 3) < 0.5 and q.jtg is not None
  assert crackjax.measure(mask).jtg is None


def test_shipped_models_are_listed_small_and_load_without_a_workdir():
  names = crackjax.list_models()
  assert names == pretrained.names() and "unet_crack500" in names
  total = sum(os.path.getsize(os.path.join(pretrained.DIRECTORY, n, f))
              for n in names for f in os.listdir(os.path.join(pretrained.DIRECTORY, n)))
  assert total <= 20e6, f"shipped models take {total / 1e6:.1f} MB (limit 20 MB)"
  for name in names:
    card = model_folder.read_card(pretrained.folder(name))
    for key in ("summary", "trained_on", "licence_terms", "test_metrics", "total_steps", "checkpoint_step"):
      assert key in card, (name, key)
    model = crackjax.load(name)
    road, truth = synthetic.generate(0, 11, synthetic.SyntheticSpec(height=96, width=160))
    prob = model.predict(road)
    assert prob.shape == (96, 160) and np.isfinite(prob).all()


def _readme_python_example(repo) -> str:
  text = (repo / "README.md").read_text()
  section = text[text.index("## Python API"):]
  return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def test_readme_python_example_runs_as_written(repo, tmp_path):
  code = _readme_python_example(repo)
  assert "crackjax.load(" in code and ".predict(" in code and "crackjax.measure(" in code
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "unet_crack500" in proc.stdout and "float32" in proc.stdout

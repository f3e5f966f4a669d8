"""Export to StableHLO (jax.export) and ONNX (jax2onnx), checked against JAX to 1e-4; the command line
(as the console script); the docs' onnxruntime snippet run with jax unimportable."""

import os
import re
import subprocess
import sys

import jax
import numpy as np
import PIL.Image
import pytest

import crackjax
from crackjax import errors
from crackjax.data import synthetic
from crackjax.inference import exporters
from crackjax.inference import restored_run


@pytest.fixture(scope="module")
def restored(trained_workdir):
  return restored_run.restore(str(trained_workdir))


def _jax_probs(restored, images):
  return np.asarray(jax.jit(exporters.probability_fn(restored))(images))


def test_stablehlo_reloads_and_matches_jax_at_any_multiple_of_32(restored):
  data = exporters.to_stablehlo(restored)
  rng = np.random.default_rng(1)
  for shape in ((1, 64, 96, 3), (3, 128, 32, 3)):   # symbolic batch, height and width
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    got = exporters.run_stablehlo(data, images)
    assert got.shape == shape[:3] and got.dtype == np.float32
    np.testing.assert_allclose(got, _jax_probs(restored, images), atol=1e-4, rtol=0)


def test_onnx_runs_in_onnxruntime_and_matches_jax(restored):
  data = exporters.to_onnx(restored, tile_size=64)
  rng = np.random.default_rng(2)
  for batch in (1, 3):                                 # dynamic batch
    images = rng.integers(0, 256, (batch, 64, 64, 3), dtype=np.uint8)
    got = exporters.run_onnx(data, images)
    assert got.shape == (batch, 64, 64)
    np.testing.assert_allclose(got, _jax_probs(restored, images), atol=1e-4, rtol=0)
  with pytest.raises(errors.UserError, match="tile_size=100"):
    exporters.to_onnx(restored, tile_size=100)


def test_export_refuses_a_file_that_differs_from_jax(trained_workdir, tmp_path, monkeypatch):
  monkeypatch.setattr(exporters, "run_stablehlo", lambda data, images: np.zeros(images.shape[:3], np.float32) + 0.5)
  with pytest.raises(RuntimeError, match="differs from JAX"):
    exporters.export(str(trained_workdir), "stablehlo", str(tmp_path / "bad.stablehlo"), tile_size=64)
  assert not (tmp_path / "bad.stablehlo").exists()


def test_console_script_exports_both_formats(repo, trained_workdir, tmp_path):
  exe = os.path.join(os.path.dirname(sys.executable), "crackjax-export")
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu")
  for fmt in ("stablehlo", "onnx"):
    out = tmp_path / f"model.{fmt}"
    proc = subprocess.run([exe, "--workdir", str(trained_workdir), "--format", fmt, "--output", str(out),
                           "--tile_size", "64"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.stat().st_size > 10_000 and "matches JAX within" in proc.stderr
  proc = subprocess.run([exe, "--format", "onnx", "--output", str(tmp_path / "x.onnx")], cwd=repo, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2 and "exactly one of --model" in proc.stderr, proc.stderr


def _docs_onnx_snippet(repo) -> str:
  text = (repo / "docs" / "inference.md").read_text()
  section = text[text.index("### Running the ONNX file without JAX"):]
  return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def test_docs_onnxruntime_snippet_needs_no_jax_and_agrees_with_crackjax(repo, trained_workdir, tmp_path):
  onnx_path = tmp_path / "model.onnx"
  exporters.export(str(trained_workdir), "onnx", str(onnx_path), tile_size=256)
  image, _ = synthetic.generate(0, 4, synthetic.SyntheticSpec(height=300, width=500))
  PIL.Image.fromarray(image).save(tmp_path / "road.jpg", quality=95)
  code = _docs_onnx_snippet(repo).replace("/tmp/unet_crack500.onnx", str(onnx_path))
  # jax and crackjax made unimportable: the snippet must run on numpy, Pillow and onnxruntime alone.
  guard = "import sys\nfor m in ('jax', 'jaxlib', 'flax', 'crackjax'):\n  sys.modules[m] = None\n"
  dump = "\nnp.save('prob.npy', predict(image))\n"
  proc = subprocess.run([sys.executable, "-c", guard + code + dump], cwd=tmp_path, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert (tmp_path / "road_mask.png").exists()
  got = np.load(tmp_path / "prob.npy")
  decoded = np.asarray(PIL.Image.open(tmp_path / "road.jpg").convert("RGB"))
  expected = crackjax.load(str(trained_workdir)).predict(decoded)
  assert got.shape == expected.shape
  assert np.abs(got - expected).max() < 0.05 and np.abs(got - expected).mean() < 0.005

"""A trained model as one file for deployment: StableHLO (`jax.export`) or ONNX (jax2onnx).

Both files hold the network with its weights as constants and compute the same function as
`crackjax.predict`'s model call: `[B, H, W, 3] uint8` RGB -> `[B, H, W] float32` crack probabilities
(the BatchNorm running averages; the 255 scaling and the sigmoid included). The sliding window that
stitches tiles of a large image stays outside (crackjax/inference/sliding_window.py; for onnxruntime,
docs/inference.md has a numpy version).

- StableHLO: serialized `jax.export.Exported` bytes, shapes symbolic: any batch, any H and W that are
  multiples of `config.eval.pad_multiple` (32). Reload with `jax.export.deserialize(bytearray(data))`
  and call `.call(images)`; needs jax (any platform it was lowered for), not crackjax or Flax.
- ONNX: batch dynamic (`B`), height and width fixed at export (`tile_size`, default 512, the sliding
  window's tile). jax2onnx 0.12.5, the newest release whose dependencies admit orbax-checkpoint 0.12,
  cannot express "a multiple of 32" (the U-Net's pooling needs it) for a dynamic height or width, so
  the ONNX file is a tile model; run it with onnxruntime, no JAX needed.

`export` checks every file it writes against the JAX model on a test batch (largest absolute
difference of the probabilities, must stay within `TOLERANCE`) and reports the difference.
"""

from __future__ import annotations

import contextlib
import io
import logging as py_logging
import os

import jax
import jax.numpy as jnp
import numpy as np

from crackjax import errors
from crackjax.inference import model_folder
from crackjax.inference import restored_run

FORMATS = ("onnx", "stablehlo")

TOLERANCE = 1e-4   # largest absolute probability difference accepted between a file and JAX


def probability_fn(restored: restored_run.Restored):
  """`[B, H, W, 3] uint8 -> [B, H, W] float32` with the weights closed over (become constants)."""
  variables = model_folder.variables(restored)
  apply_fn = restored.state.apply_fn

  def probabilities(images):
    logits = apply_fn(variables, images.astype(jnp.float32) / 255.0, train=False)
    return jax.nn.sigmoid(logits[..., 0])

  return probabilities


def to_stablehlo(restored: restored_run.Restored, platforms: tuple[str, ...] = ("cpu", "cuda", "tpu")) -> bytes:
  """Serialized `jax.export` of `probability_fn`, batch/height/width symbolic (H, W multiples of 32)."""
  m = restored.config.eval.pad_multiple
  shape = jax.export.symbolic_shape(f"b, {m}*h, {m}*w, 3")
  exported = jax.export.export(jax.jit(probability_fn(restored)), platforms=platforms)(
      jax.ShapeDtypeStruct(shape, jnp.uint8))
  return bytes(exported.serialize())


def run_stablehlo(data: bytes, images: np.ndarray) -> np.ndarray:
  """`[B, H, W] float32` of a serialized StableHLO export (as a user reloads it)."""
  return np.asarray(jax.export.deserialize(bytearray(data)).call(images))


def _jax2onnx():
  try:
    import jax2onnx  # noqa: PLC0415
  except ImportError as e:
    raise errors.UserError("ONNX export needs jax2onnx, onnx and onnxruntime: pip install "
                           "'crackjax[export]' (or pass --format stablehlo).") from e
  return jax2onnx


def to_onnx(restored: restored_run.Restored, tile_size: int = 512) -> bytes:
  """The ONNX model of `probability_fn` for `[B, tile_size, tile_size, 3] uint8` tiles (B dynamic)."""
  m = restored.config.eval.pad_multiple
  if tile_size < m or tile_size % m:
    raise errors.UserError(f"--tile_size={tile_size} must be a positive multiple of "
                           f"config.eval.pad_multiple={m} (the network's pooling needs it).")
  jax2onnx = _jax2onnx()
  spec = jax.ShapeDtypeStruct(jax.export.symbolic_shape(f"B, {tile_size}, {tile_size}, 3"), jnp.uint8)
  # jax2onnx prints its tracing to stdout and logs failed imports of plugins for libraries we do not
  # use; onnx_ir warns about shape-only values it does not serialize.
  quiet = [py_logging.getLogger(name) for name in ("jax2onnx", "onnx_ir")]
  levels = [logger.level for logger in quiet]
  for logger in quiet:
    logger.setLevel(py_logging.ERROR)
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      proto = jax2onnx.to_onnx(probability_fn(restored), [spec], model_name="crackjax_crack_probability",
                               input_names=["images"], output_names=["probabilities"])
  finally:
    for logger, level in zip(quiet, levels):
      logger.setLevel(level)
  return proto.SerializeToString()


def run_onnx(data: bytes, images: np.ndarray) -> np.ndarray:
  """`[B, T, T] float32` of an ONNX model (bytes) in onnxruntime on the CPU."""
  try:
    import onnxruntime  # noqa: PLC0415
  except ImportError as e:
    raise errors.UserError("checking the ONNX file needs onnxruntime: pip install 'crackjax[export]'.") from e
  session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
  return session.run(None, {"images": images})[0]


def check_images(restored: restored_run.Restored, size: int, batch: int = 2) -> np.ndarray:
  """`[batch, size, size, 3] uint8`: a synthetic road image and noise, to compare a file with JAX."""
  from crackjax.data import synthetic  # noqa: PLC0415
  road, _ = synthetic.generate(0, 1, synthetic.SyntheticSpec(height=size, width=size))
  noise = np.random.default_rng(0).integers(0, 256, (batch - 1, size, size, 3), dtype=np.uint8)
  return np.concatenate([road[None], noise])


def export(name_or_workdir: str, fmt: str, output: str, *, tile_size: int = 512,
           checkpoint_step: int | None = None) -> dict:
  """Writes the model as `fmt` to `output` and checks it against JAX; returns what was done.

  Args:
    name_or_workdir: a shipped model's name, a training workdir or a model folder.
    fmt: "onnx" or "stablehlo".
    tile_size: ONNX: the fixed tile height and width; StableHLO: the size of the check images only.
  """
  from crackjax import pretrained  # noqa: PLC0415
  if fmt not in FORMATS:
    raise errors.UserError(f"--format={fmt!r}: use one of {list(FORMATS)}.")
  restored = restored_run.restore(pretrained.resolve(name_or_workdir), step=checkpoint_step)
  data = to_onnx(restored, tile_size) if fmt == "onnx" else to_stablehlo(restored)
  images = check_images(restored, tile_size)
  expected = np.asarray(jax.jit(probability_fn(restored))(images))
  got = (run_onnx if fmt == "onnx" else run_stablehlo)(data, images)
  diff = float(np.max(np.abs(got - expected)))
  if not diff <= TOLERANCE:
    raise RuntimeError(f"the {fmt} export of {name_or_workdir} differs from JAX by {diff:.3g} (more than "
                       f"{TOLERANCE:g}) on {images.shape} check images; not written to {output}.")
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with errors.writing(output):
    tmp = output + ".tmp"
    with open(tmp, "wb") as f:
      f.write(data)
    os.replace(tmp, output)
  return {"format": fmt, "output": os.path.abspath(output), "bytes": len(data),
          "checkpoint_step": restored.step, "max_abs_diff_vs_jax": diff, "check_shape": list(images.shape),
          "input": ("[B, %d, %d, 3] uint8" % (tile_size, tile_size) if fmt == "onnx" else
                    f"[B, H, W, 3] uint8, H and W multiples of {restored.config.eval.pad_multiple}")}

r"""Exports a trained model for deployment: ONNX (onnxruntime, no JAX) or StableHLO (jax.export).

    python -m crackjax.export --model unet_crack500 --format onnx --output /tmp/unet_crack500.onnx
    python -m crackjax.export --workdir DIR --format stablehlo --output /tmp/model.stablehlo \
        [--checkpoint_step N] [--tile_size 512]

What the files compute, their input shapes and how each is checked against JAX:
crackjax/inference/exporters.py; running the ONNX file without JAX: docs/inference.md.
"""

from __future__ import annotations

from absl import app
from absl import flags
from absl import logging

from crackjax import cli
from crackjax import errors
from crackjax import pretrained
from crackjax.inference import exporters


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  cli.quiet_library_logs()
  workdir = pretrained.model_or_workdir(_MODEL.value, _WORKDIR.value)
  step = _CHECKPOINT_STEP.value
  done = exporters.export(workdir, _FORMAT.value, _OUTPUT.value,
                          tile_size=_TILE_SIZE.value, checkpoint_step=None if step < 0 else step)
  logging.info("Wrote %s (%s, %.1f MB; input %s; checkpoint %d); it matches JAX within %.2g on %s check "
               "images.", done["output"], done["format"], done["bytes"] / 1e6, done["input"],
               done["checkpoint_step"], done["max_abs_diff_vs_jax"], "x".join(map(str, done["check_shape"])))


def run():
  """The `crackjax-export` console script."""
  global _MODEL, _WORKDIR, _FORMAT, _OUTPUT, _TILE_SIZE, _CHECKPOINT_STEP  # noqa: PLW0603
  _MODEL = flags.DEFINE_string("model", None, "A shipped model's name (python -m crackjax.predict "
                               "--list_models).")
  _WORKDIR = flags.DEFINE_string("workdir", None, "A training workdir or a model folder.")
  _FORMAT = flags.DEFINE_enum("format", "onnx", list(exporters.FORMATS), "File format.")
  _OUTPUT = flags.DEFINE_string("output", None, "The file to write.")
  _TILE_SIZE = flags.DEFINE_integer("tile_size", 512, "ONNX: the fixed tile height and width (a "
                                    "multiple of 32); StableHLO takes any multiple of 32.")
  _CHECKPOINT_STEP = flags.DEFINE_integer("checkpoint_step", -1, "Checkpoint of a workdir; -1: the best "
                                          "by val/f1.")
  flags.mark_flags_as_required(["output"])
  app.run(errors.run_main(main), flags_parser=cli.parse_flags)


if __name__ == "__main__":
  run()

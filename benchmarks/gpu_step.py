r"""Train-step speed and MFU of crackjax's step on one accelerator: U-Net and DeepLabV3+, bf16 and float32.

    python benchmarks/gpu_step.py                       # what benchmarks/gpu.sh runs on a lent GPU
    python benchmarks/gpu_step.py --batch 2 --size 64 --steps 2 --models unet   # a CPU smoke check

For each (model, compute dtype): the real `crackjax.training.step.train_step` (pool selection, the model, BCE,
clipping, AdamW, balance accumulators; parameters stay float32, `model.dtype` sets the compute dtype),
compiled once; `--steps` timed steps after `--warmup`, median. Model FLOPs per step come from XLA's cost
analysis of the compiled step (a multiply-add counts 2; this includes the backward pass and the
optimizer). MFU = achieved FLOP/s / the chip's dense peak for that dtype from PEAK_TFLOPS (float32 matmuls
run as TF32 on NVIDIA GPUs under JAX's default precision, so float32 is set against the TF32 peak).
Kernel weights are drawn on the host (see benchmarks/model_step_time.py) so that init compiles fast.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Dense peak TFLOP/s by jax device_kind substring: {dtype: peak}. SXM parts, vendor data sheets.
PEAK_TFLOPS = {
    "H200": {"bfloat16": 989.0, "float32": 494.7},
    "H100": {"bfloat16": 989.0, "float32": 494.7},
    "A100": {"bfloat16": 312.0, "float32": 156.0},
    "TPU v5 lite": {"bfloat16": 197.0, "float32": 197.0},
    "TPU v4": {"bfloat16": 275.0, "float32": 275.0},
}

MODELS = {
    "unet": dict(name="unet", base_channels=64, depth=4),
    "deeplabv3plus": dict(name="deeplabv3plus"),
}


def main(argv) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--models", default="unet,deeplabv3plus")
  p.add_argument("--dtypes", default="bfloat16,float32")
  p.add_argument("--batch", type=int, default=16)
  p.add_argument("--size", type=int, default=512)
  p.add_argument("--warmup", type=int, default=3)
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--json", default="")
  args = p.parse_args(argv)

  import jax
  import model_step_time  # benchmarks/: synthetic pool, step timing
  import numpy as np

  import host_init  # noqa: PLC0415  (benchmarks/ is on sys.path)
  from crackjax import config_base
  from crackjax import models
  from crackjax.balance import methods
  from crackjax.training import parallel
  from crackjax.training import state as state_lib
  from crackjax.training import step as step_lib

  kind = jax.devices()[0].device_kind
  peak = next((v for k, v in PEAK_TFLOPS.items() if k in kind), None)
  print(f"devices: {jax.device_count()} x {kind}; jax {jax.__version__}; batch {args.batch} x "
        f"{args.size}^2", flush=True)
  mesh = parallel.make_mesh()
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  pool = model_step_time.synthetic_pool(args.batch, args.size)
  batch = jax.device_put(pool, data)
  rows = []
  for name in args.models.split(","):
    for dtype in args.dtypes.split(","):
      config = config_base.base()
      config.batch_size = args.batch
      config.balance.method = "bce"
      for k, v in MODELS[name].items():
        setattr(config.model, k, v)
      config.model.dtype = dtype
      model = models.get_model(config.model)
      variables = host_init.host_variables(model, args.size)
      tx = state_lib.make_optimizer(config.optimizer, 1000)
      state = jax.device_put(state_lib.TrainState.create(
          apply_fn=model.apply, params=variables["params"],
          batch_stats=variables.get("batch_stats", {}), tx=tx, rng=jax.random.PRNGKey(0),
          balance=methods.initial_balance(config.balance, 0.5, 0.05)), repl)
      t = time.perf_counter()
      compiled = step_lib.make_train_step(config, repl, data).lower(state, batch).compile()
      compile_s = time.perf_counter() - t
      flops = model_step_time.step_flops(compiled)
      times, state, m = model_step_time.time_steps(compiled, state, batch, args.steps, args.warmup)
      step_s = statistics.median(times)
      tflops = flops / step_s / 1e12
      row = {"model": name, "dtype": dtype, "step_ms": 1e3 * step_s, "images_per_s": args.batch / step_s,
             "step_tflop": flops / 1e12, "tflops": tflops, "compile_s": compile_s,
             "loss_finite": bool(np.isfinite(float(m["loss"]))),
             "mfu": tflops / peak[dtype] if peak else None}
      rows.append(row)
      print(json.dumps(row), flush=True)
  print("\n| model | dtype | step (ms) | images/s | TFLOP/step | TFLOP/s | MFU |")
  print("|---|---|---:|---:|---:|---:|---:|")
  for r in rows:
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "- (no peak for this chip)"
    print(f"| {r['model']} | {r['dtype']} | {r['step_ms']:.1f} | {r['images_per_s']:.1f} | "
          f"{r['step_tflop']:.3f} | {r['tflops']:.1f} | {mfu} |")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"device_kind": kind, "args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main(sys.argv[1:])

r"""Parameters, GFLOPs per 512x512 patch and train-step time for every model of the zoo.

    flock /tmp/crackjax_timing.lock python benchmarks/model_step_time.py \
        --out benchmarks/results/model_step_time_cpu.json

For each model variant (full reference width): the parameter count (`jax.eval_shape`, nothing is
initialised), the forward FLOPs of one 512x512 patch from XLA's cost analysis of the compiled
inference function (`jax.jit(f).lower(...).compile().cost_analysis()["flops"]`; XLA counts a
multiply-add as 2 FLOPs), and the time of the real data-parallel train step (`crackjax.step`,
AdamW, `balance.method=ran`) on all local devices at `--batch` patches of `--size`^2: compile time,
then the median of `--steps` timed steps after one warm-up step. The machine's load average is
recorded before and after each model, since other work on the machine slows the timings.

Conv kernels are drawn on the host (`benchmarks/host_init.py`) instead of by the models' initializers,
which XLA:CPU compiles slowly (one random program per tensor); timings do not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import host_init  # benchmarks/ (the script's directory is on sys.path)
from crackjax import config_base
from crackjax import models
from crackjax.balance import methods
from crackjax.training import parallel
from crackjax.training import state as state_lib
from crackjax.training import step as step_lib


# label -> config.model overrides (full reference sizes).
VARIANTS = {
    "fcn (FCN-8s, VGG-16)": dict(name="fcn"),
    "unet (64 base channels)": dict(name="unet", base_channels=64, depth=4),
    "unetpp (UNet++, width 32)": dict(name="unetpp"),
    "pspnet (ResNet-50)": dict(name="pspnet"),
    "fpn (ResNet-50)": dict(name="fpn"),
    "deeplabv3plus (ResNet-50)": dict(name="deeplabv3plus"),
    "deeplabv3plus (Xception-65)": dict(name="deeplabv3plus", backbone="xception65"),
    "hrnet (HRNetV2-W18)": dict(name="hrnet"),
    "hrnet (HRNetV2-W48)": dict(name="hrnet", width=48),
    "deepcrack (width 64)": dict(name="deepcrack"),
}


def forward_gflops(model, variables_shapes, size: int) -> float:
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  compiled = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(variables_shapes, x).compile()
  return step_flops(compiled) / 1e9


def step_flops(compiled) -> float:
  """FLOPs of one call of a compiled function, from XLA's cost analysis (a multiply-add counts 2)."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost["flops"])


def time_steps(compiled, state, batch, steps: int, warmup: int = 1):
  """Runs `warmup` untimed then `steps` timed train steps; returns (per-step seconds, state, metrics)."""
  m = None
  for _ in range(warmup):
    state, m = compiled(state, batch)
  jax.block_until_ready(m)
  times = []
  for _ in range(steps):
    t = time.perf_counter()
    state, m = compiled(state, batch)
    jax.block_until_ready(m)
    times.append(time.perf_counter() - t)
  return times, state, m


def synthetic_pool(batch: int, size: int, seed: int = 0) -> dict:
  rng = np.random.default_rng(seed)
  mask = np.zeros((batch, size, size, 1), np.uint8)
  mask[:, size // 2 - 1:size // 2 + 2, size // 8:-size // 8] = 1
  image = rng.integers(90, 170, (batch, size, size, 3)).astype(np.uint8)
  image[mask[..., 0] > 0] = 40
  return {"pos_image": image, "pos_mask": mask,
          "neg_image": rng.integers(90, 170, (batch, size, size, 3)).astype(np.uint8),
          "neg_mask": np.zeros_like(mask)}


def measure(label: str, overrides: dict, args) -> dict:
  config = config_base.base()
  config.batch_size = args.batch
  for k, v in overrides.items():
    setattr(config.model, k, v)
  model = models.get_model(config.model)
  load_before = os.getloadavg()
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)),
                                             train=False))
  row = {"model": label, "config": overrides,
         "params": int(sum(x.size for x in jax.tree.leaves(shapes["params"])))}
  t = time.perf_counter()
  row["gflops_512"] = forward_gflops(model, shapes, args.flops_size)
  row["flops_compile_s"] = time.perf_counter() - t
  if args.steps:
    mesh = parallel.make_mesh()
    repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    variables = host_init.host_variables(model, args.size)
    tx = state_lib.make_optimizer(config.optimizer, 1000)
    state = jax.device_put(state_lib.TrainState.create(
        apply_fn=model.apply, params=variables["params"], batch_stats=variables.get("batch_stats", {}),
        tx=tx, rng=jax.random.PRNGKey(0), balance=methods.initial_balance(config.balance, 0.3, 0.02)),
        repl)
    batch = jax.tree.map(lambda x: jax.device_put(x, data), synthetic_pool(args.batch, args.size))
    train_step = step_lib.make_train_step(config, repl, data)
    t = time.perf_counter()
    compiled = train_step.lower(state, batch).compile()
    row["step_compile_s"] = time.perf_counter() - t
    times, state, m = time_steps(compiled, state, batch, args.steps)
    row.update(step_s_median=statistics.median(times), step_s_all=times,
               loss_finite=bool(np.isfinite(float(m["loss"]))))
  row["loadavg_before"] = load_before
  row["loadavg_after"] = os.getloadavg()
  return row


def main(argv) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--models", default="", help="comma-separated substrings of the labels (default all)")
  parser.add_argument("--batch", type=int, default=8, help="global batch (patches) per train step")
  parser.add_argument("--size", type=int, default=128, help="patch side of the timed train step")
  parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up (0: no timing)")
  parser.add_argument("--flops_size", type=int, default=512, help="patch side for the FLOP count")
  parser.add_argument("--out", default="", help="also write the rows as JSON here")
  args = parser.parse_args(argv)
  wanted = [w for w in args.models.split(",") if w]
  header = {"jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
            "cpu_count": os.cpu_count(), "machine": platform.machine(), "batch": args.batch,
            "size": args.size, "steps": args.steps, "flops_size": args.flops_size}
  print(json.dumps(header), flush=True)
  rows = []
  for label, overrides in VARIANTS.items():
    if wanted and not any(w in label for w in wanted):
      continue
    row = measure(label, overrides, args)
    rows.append(row)
    print(json.dumps(row), flush=True)
  print(f"\n| model | parameters | GFLOPs / 512x512 | train step, {args.batch} x {args.size}^2 (s) "
        f"| compile (s) | load avg (1 min) |")
  print("|---|---:|---:|---:|---:|---:|")
  for r in rows:
    step = f"{r['step_s_median']:.2f}" if "step_s_median" in r else "-"
    comp = f"{r['step_compile_s']:.0f}" if "step_compile_s" in r else "-"
    print(f"| {r['model']} | {r['params']:,} | {r['gflops_512']:.1f} | {step} | {comp} | "
          f"{r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f} |")
  if args.out:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
      json.dump({"header": header, "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main(sys.argv[1:])

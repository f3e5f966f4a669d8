r"""Train-step throughput: crackjax's U-Net train step side by side with the same network in PyTorch.

    pip install torch==2.13.0        # optional, benchmarks only; a local CPU build on the dev machine
    flock /tmp/crackjax_timing.lock python benchmarks/train_throughput.py

What is timed, per framework, on the same machine in the same process:

- **crackjax**: the real `crackjax.training.step.train_step` (jit-compiled once, state donated, batch sharded over
  all local devices): in-graph pos/neg patch selection from a pool of 2B candidates, the U-Net (4 levels,
  `--base` base channels, BatchNorm, ReLU, 2x2 transposed-conv up, skip concatenation), BCE
  (`balance.method=bce`), global-norm clipping and AdamW, plus the confusion counts and balance accumulators.
- **flax (plain)**: the same Flax U-Net with a minimal step (BCE, clip, AdamW; no selection, no metrics):
  separates the framework's cost from crackjax's extras.
- **torch NCHW** and **torch channels_last**: the same network in PyTorch (`nn.Conv2d(bias=False)`,
  `BatchNorm2d(momentum=0.1)` = Flax momentum 0.9, `ConvTranspose2d(2, stride 2)`, BCE-with-logits,
  `clip_grad_norm_`, `AdamW`), in the default memory format and in channels_last.

All run on one fixed batch of `--batch` images of `--size`^2 (the input pipeline is measured separately
by benchmarks/input_pipeline.py). After `--warmup` steps each, the contenders are interleaved
(A B C D A B C D ...) for `--rounds` rounds of `--steps` steps, so drift in machine load touches all
of them alike; the table gives the median and the spread (min-max) of the per-round mean step time.
GFLOP/s = the compiled crackjax step's FLOPs (XLA cost analysis, a multiply-add counts 2) / step time,
applied to every row (the networks are the same). The last line is
`ratio_vs_torch=<torch step time / crackjax step time>` against the faster of the two PyTorch layouts
(> 1: crackjax is faster).

`--xla_flags` is appended to XLA_FLAGS before JAX starts (e.g. to try XLA:CPU options);
`--standard_ops --xla_cpu_defaults` reproduces the step before the changes of docs/performance.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # benchmarks/ (torch_unet, model_step_time)


def add_network_args(p: argparse.ArgumentParser) -> None:
  """The benchmark U-Net and batch: `--batch` x `--size`^2 images, `--base` channels, `--depth` levels
  (shared by the benchmarks that time this network)."""
  p.add_argument("--batch", type=int, default=4)
  p.add_argument("--size", type=int, default=256)
  p.add_argument("--base", type=int, default=16, help="U-Net base channels")
  p.add_argument("--depth", type=int, default=4)


def parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  add_network_args(p)
  p.add_argument("--warmup", type=int, default=2, help="untimed steps per contender")
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--steps", type=int, default=3, help="steps per contender per round")
  p.add_argument("--contenders", default="crackjax,flax,torch,torch_cl",
                 help="comma-separated subset of crackjax,flax,torch,torch_cl")
  p.add_argument("--xla_flags", default="", help="appended to XLA_FLAGS before JAX starts")
  p.add_argument("--standard_ops", action="store_true",
                 help="use lax.conv_transpose, flax's BatchNorm computation and nn.max_pool on CPU too "
                      "(layers.cpu_formulations off), to reproduce "
                      "the baseline of docs/performance.md")
  p.add_argument("--xla_cpu_defaults", action="store_true",
                 help="compile with XLA's default options (CRACKJAX_XLA_CPU_DEFAULTS=1; "
                      "crackjax/training/compile_options.py), to reproduce the baseline")
  p.add_argument("--json", default="", help="also write the results here")
  return p.parse_args(argv)


# ------------------------------------------------------------------------------------------- JAX ---

def jax_contenders(args, names):
  import jax
  import jax.numpy as jnp
  import model_step_time  # benchmarks/
  import optax

  from crackjax import config_base
  from crackjax import models
  from crackjax.balance import methods
  from crackjax.models import layers
  from crackjax.training import compile_options
  from crackjax.training import parallel
  from crackjax.training import state as state_lib
  from crackjax.training import step as step_lib

  if args.standard_ops:
    layers.cpu_formulations = lambda: False
  config = config_base.base()
  config.batch_size = args.batch
  config.model.base_channels, config.model.depth = args.base, args.depth
  config.balance.method = "bce"
  model = models.get_model(config.model)
  mesh = parallel.make_mesh()
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  pool = model_step_time.synthetic_pool(args.batch, args.size)
  tx = state_lib.make_optimizer(config.optimizer, 1000)
  out, info = {}, {}

  if "crackjax" in names:
    balance0 = methods.initial_balance(config.balance, 0.5, 0.05)
    state = state_lib.create(model, tx, 0, args.size, balance0, repl)
    batch = jax.device_put(pool, data)
    compiled = step_lib.make_train_step(config, repl, data).lower(state, batch).compile()
    info["step_gflop"] = model_step_time.step_flops(compiled) / 1e9
    holder = {"state": state}

    def run_crackjax():
      holder["state"], m = compiled(holder["state"], batch)
      jax.block_until_ready(m)
      return m

    out["crackjax"] = run_crackjax
    info["crackjax_check"] = lambda: float(run_crackjax()["loss"])

  if "flax" in names:
    variables = jax.jit(lambda k: model.init(k, jnp.zeros((1, args.size, args.size, 3)), train=False))(
        jax.random.PRNGKey(0))
    params, stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)
    images = jax.device_put(jnp.asarray(pool["pos_image"], jnp.float32) / 255.0, data)
    labels = jax.device_put(jnp.asarray(pool["pos_mask"], jnp.float32), data)

    @functools.partial(jax.jit, compiler_options=compile_options.for_backend())
    def plain_step(params, stats, opt_state, images, labels):
      def loss_fn(p):
        logits, upd = model.apply({"params": p, "batch_stats": stats}, images, train=True,
                                  mutable=["batch_stats"])
        return optax.sigmoid_binary_cross_entropy(logits, labels).mean(), upd
      (loss, upd), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
      updates, opt_state = tx.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), upd["batch_stats"], opt_state, loss

    plain = plain_step.lower(params, stats, opt_state, images, labels).compile()
    holder2 = {"v": (params, stats, opt_state)}

    def run_flax():
      p, s, o, loss = plain(*holder2["v"], images, labels)
      holder2["v"] = (p, s, o)
      jax.block_until_ready(loss)

    out["flax"] = run_flax
  info["jax"] = jax.__version__
  info["devices"] = [str(d) for d in jax.devices()]
  return out, info


# ----------------------------------------------------------------------------------------- torch ---

def torch_contenders(args, names):
  import numpy as np
  import torch
  from torch import nn
  from torch_unet import UNet

  rng = np.random.default_rng(0)
  shape = (args.batch, args.size, args.size)
  images = torch.from_numpy(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).permute(0, 3, 1, 2)
  images = images.float() / 255.0
  labels = torch.from_numpy((rng.random((*shape, 1)) < 0.05).astype(np.float32)).permute(0, 3, 1, 2)
  out = {}
  for name, fmt in (("torch", torch.contiguous_format), ("torch_cl", torch.channels_last)):
    if name not in names:
      continue
    torch.manual_seed(0)
    net = UNet(args.base, args.depth).to(memory_format=fmt).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    x, y = images.contiguous(memory_format=fmt), labels.contiguous(memory_format=fmt)
    loss_fn = nn.BCEWithLogitsLoss()

    def run(net=net, opt=opt, x=x, y=y):
      opt.zero_grad(set_to_none=True)
      loss = loss_fn(net(x), y)
      loss.backward()
      torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
      opt.step()
      return loss.item()

    out[name] = run
  return out, {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------ main ---

def interleave(runners: dict, warmup: int, rounds: int, steps: int) -> dict[str, list[float]]:
  """`warmup` untimed calls of each runner, then `rounds` rounds of A B C ..., each runner called `steps`
  times per round; the mean seconds per call of each round, per runner."""
  for run in runners.values():
    for _ in range(warmup):
      run()
  per_round = {name: [] for name in runners}
  for _ in range(rounds):
    for name, run in runners.items():
      t = time.perf_counter()
      for _ in range(steps):
        run()
      per_round[name].append((time.perf_counter() - t) / steps)
  return per_round


def main(argv) -> None:
  args = parse_args(argv)
  if args.xla_cpu_defaults:
    os.environ["CRACKJAX_XLA_CPU_DEFAULTS"] = "1"
  if args.xla_flags:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + args.xla_flags).strip()
  names = [n for n in args.contenders.split(",") if n]
  runners, info = {}, {"loadavg_before": os.getloadavg()}
  t = time.perf_counter()
  r, i = jax_contenders(args, names)
  runners.update(r)
  info.update({k: v for k, v in i.items() if not callable(v)})
  info["jax_setup_s"] = round(time.perf_counter() - t, 1)
  if any(n.startswith("torch") for n in names):
    try:
      r, i = torch_contenders(args, names)
      runners.update(r)
      info.update(i)
    except ImportError:
      print("PyTorch is not installed (pip install torch==2.13.0); timing crackjax alone.", flush=True)
  per_round = interleave(runners, args.warmup, args.rounds, args.steps)
  info["loadavg_after"] = os.getloadavg()
  gflop = info.get("step_gflop")
  img_gflop = gflop / args.batch if gflop else None
  cpu = platform.processor()
  try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
  except (OSError, StopIteration):
    pass
  print(f"\nU-Net base {args.base}, depth {args.depth}, batch {args.batch} x {args.size}^2 x 3, BatchNorm, "
        f"AdamW; {os.cpu_count()} cores ({cpu}); jax {info.get('jax')}, torch {info.get('torch', '-')} "
        f"({info.get('torch_threads', '-')} threads); XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
  if gflop:
    print(f"crackjax step: {gflop:.1f} GFLOP ({img_gflop:.2f} per image, XLA cost analysis)")
  print(f"load average before/after: {info['loadavg_before'][0]:.2f} / {info['loadavg_after'][0]:.2f}\n")
  print("| contender | step (s), median | min - max | images/s | GFLOP/s |")
  print("|---|---:|---:|---:|---:|")
  med = {n: statistics.median(v) for n, v in per_round.items()}
  for n, v in per_round.items():
    rate = f"{gflop / med[n]:.1f}" if gflop else "-"
    print(f"| {n} | {med[n]:.3f} | {min(v):.3f} - {max(v):.3f} | {args.batch / med[n]:.2f} | {rate} |")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"args": vars(args), "info": info, "per_round_s": per_round, "median_s": med}, f, indent=1)
  torch_names = [n for n in ("torch", "torch_cl") if n in med]
  if "crackjax" in med and torch_names:
    best_torch = min(med[n] for n in torch_names)
    print(f"\nratio_vs_torch={best_torch / med['crackjax']:.3f}")


if __name__ == "__main__":
  main(sys.argv[1:])

r"""Each CPU formulation of `crackjax.models.layers` against the standard op it replaces.

    flock /tmp/crackjax_timing.lock python benchmarks/cpu_formulations.py

On CPU backends crackjax's U-Net uses `layers.ConvTranspose` (a matrix product + depth-to-space instead of
`nn.ConvTranspose`), `layers.BatchNorm` (statistics and gradients as matrix-vector products instead of
`nn.BatchNorm`'s reductions) and `layers.max_pool_2x2` (window-corner maxima instead of `nn.max_pool`'s
reduce-window and select-and-scatter gradient); docs/performance.md says why. This script measures what
each buys:

1. **Per layer**: the forward and backward pass (`jax.value_and_grad` of `sum(layer(x) * t)` over the input
   and the parameters) of each layer at every U-Net level where it occurs, the formulation against the
   standard op, each jit-compiled with crackjax's compiler options; ms, median of `--reps` calls.
2. **The train step**: crackjax's U-Net train step (benchmarks/train_throughput.py's `crackjax`
   contender) built with every formulation, with each one in turn swapped for its standard op, and with
   all three swapped; the variants are interleaved in one process (A B C D E, `--rounds` rounds of `--steps`
   steps after `--warmup`), median and spread of the per-round mean step time.

The swap replaces the layer in `crackjax.models.layers` while a variant is traced (the U-Net looks the
layers up at trace time); the standard ops take the same parameters, so every variant trains the same
network.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import statistics
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import train_throughput  # benchmarks/ (the script's directory is on sys.path)

from crackjax.models import layers
from crackjax.training import compile_options


# name -> (attribute of crackjax.models.layers, the standard op that replaces it)
STANDARD_OPS = {
    "conv_transpose": ("ConvTranspose", lambda features, dtype=jnp.float32: nn.ConvTranspose(
        features, (2, 2), strides=(2, 2), dtype=dtype)),
    "batch_norm": ("BatchNorm", nn.BatchNorm),
    "max_pool": ("max_pool_2x2", lambda x: nn.max_pool(x, (2, 2), strides=(2, 2))),
}


def parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  train_throughput.add_network_args(p)
  p.add_argument("--reps", type=int, default=7, help="timed calls per layer measurement (median)")
  p.add_argument("--warmup", type=int, default=2, help="untimed steps per step variant")
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--steps", type=int, default=3, help="steps per variant per round")
  return p.parse_args(argv)


@contextlib.contextmanager
def standard(names):
  """Swaps the named layers of `crackjax.models.layers` for their standard ops inside the block."""
  saved = {n: getattr(layers, STANDARD_OPS[n][0]) for n in names}
  try:
    for n in names:
      setattr(layers, STANDARD_OPS[n][0], STANDARD_OPS[n][1])
    yield
  finally:
    for n, value in saved.items():
      setattr(layers, STANDARD_OPS[n][0], value)


def layer_cases(args):
  """(name, label, input shape, a function building the layer's `f(x)`) at each U-Net level."""
  b, cases = args.batch, []
  for level in range(args.depth + 1):
    size, c = args.size >> level, args.base * 2 ** level
    cases.append(("batch_norm", f"{size}^2 x {c}", (b, size, size, c),
                  lambda: layers.BatchNorm(use_running_average=False, momentum=0.9)))
    if level < args.depth:
      cases.append(("max_pool", f"{size}^2 x {c}", (b, size, size, c), lambda: layers.max_pool_2x2))
    if level > 0:
      cases.append(("conv_transpose", f"{size}^2 x {c} -> {c // 2}", (b, size, size, c),
                    functools.partial(lambda f: layers.ConvTranspose(f), c // 2)))
  return cases


def time_layer(build, shape, reps: int) -> float:
  """ms of one forward + backward pass of the layer `build()` returns (a module or a function)."""
  layer = build()
  x = jax.random.normal(jax.random.PRNGKey(0), shape) * 2 + 1
  if isinstance(layer, nn.Module):
    variables = layer.init(jax.random.PRNGKey(1), x)
    apply = lambda v, x: layer.apply(v, x, mutable=["batch_stats"])[0]   # BatchNorm in training mode
  else:
    variables, apply = {}, lambda v, x: layer(x)
  t = jax.random.normal(jax.random.PRNGKey(2), jax.eval_shape(apply, variables, x).shape)
  step = jax.jit(jax.value_and_grad(lambda v, x, t: jnp.sum(apply(v, x) * t), argnums=(0, 1)),
                 compiler_options=compile_options.for_backend())
  jax.block_until_ready(step(variables, x, t))
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    jax.block_until_ready(step(variables, x, t))
    times.append(time.perf_counter() - start)
  return 1e3 * statistics.median(times)


def main(argv) -> None:
  args = parse_args(argv)
  load_before = os.getloadavg()[0]
  print(f"U-Net base {args.base}, depth {args.depth}, batch {args.batch} x {args.size}^2; "
        f"{os.cpu_count()} cores; jax {jax.__version__}; load average {load_before:.2f}\n")
  print(f"Per layer, forward + backward, ms (median of {args.reps}):\n")
  print("| layer | shape | crackjax formulation | standard op | speed-up |")
  print("|---|---|---:|---:|---:|")
  totals = {}
  for name, label, shape, build in layer_cases(args):
    mine = time_layer(build, shape, args.reps)
    with standard([name]):
      plain = time_layer(build, shape, args.reps)
    totals[name] = [a + b for a, b in zip(totals.get(name, [0, 0]), (mine, plain))]
    print(f"| {name} | {label} | {mine:.1f} | {plain:.1f} | {plain / mine:.1f}x |", flush=True)
  for name, (mine, plain) in totals.items():
    print(f"| {name} | all levels | {mine:.1f} | {plain:.1f} | {plain / mine:.1f}x |")

  bench = train_throughput.parse_args(["--batch", str(args.batch), "--size", str(args.size),
                                       "--base", str(args.base), "--depth", str(args.depth)])
  variants = {"all formulations": []}
  variants.update({f"{n} standard": [n] for n in STANDARD_OPS})
  variants["all standard"] = list(STANDARD_OPS)
  runners = {}
  for label, names in variants.items():
    with standard(names):
      runners[label] = train_throughput.jax_contenders(bench, ["crackjax"])[0]["crackjax"]
  per_round = train_throughput.interleave(runners, args.warmup, args.rounds, args.steps)
  print(f"\nThe train step, s (interleaved, median of {args.rounds} rounds of {args.steps} steps; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after):\n")
  print("| variant | step (s), median | min - max | vs all formulations |")
  print("|---|---:|---:|---:|")
  base = statistics.median(per_round["all formulations"])
  for label, v in per_round.items():
    med = statistics.median(v)
    print(f"| {label} | {med:.3f} | {min(v):.3f} - {max(v):.3f} | {med / base:.2f}x |")


if __name__ == "__main__":
  main(sys.argv[1:])

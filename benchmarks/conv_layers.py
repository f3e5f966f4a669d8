r"""Per-layer convolution times of the benchmark U-Net: XLA:CPU against PyTorch (oneDNN).

    pip install torch==2.13.0        # optional, benchmarks only
    flock /tmp/crackjax_timing.lock python benchmarks/conv_layers.py
    flock /tmp/crackjax_timing.lock python benchmarks/conv_layers.py --contenders xla \
        --xla_options '{"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"}'

For each 3x3 convolution of the U-Net in benchmarks/train_throughput.py (`--base` base channels, `--depth`
levels, batch `--batch` x `--size`^2; the same layer shapes, in network order) it times the three
convolutions a train step runs: the forward pass, the input gradient and the weight gradient, each as
its own jit-compiled function (XLA, NHWC/HWIO, with crackjax's compiler options or `--xla_options`)
and as the matching ATen call in PyTorch (`conv2d`, `convolution_backward` with one output mask), in
the default NCHW layout and in channels_last. Each time is the median of `--reps` calls after one
warm-up call; the contenders run one after another per layer. Last, an `--sgemm_size`^2 float32 matrix
product in numpy, XLA and PyTorch gives the CPU's practical peak for comparison.

What it answers (docs/performance.md, "The remaining gap"): how much of the train step's time is
convolution, per kind and per layer, in XLA:CPU and in oneDNN, which bounds what any change outside
the convolutions can reach. In the step the convolutions overlap with other work, so the sums are a
guide to, not a decomposition of, the step time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import train_throughput  # benchmarks/ (the script's directory is on sys.path)


def parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  train_throughput.add_network_args(p)
  p.add_argument("--reps", type=int, default=5, help="timed calls per measurement (median)")
  p.add_argument("--contenders", default="xla,torch,torch_cl",
                 help="comma-separated subset of xla,torch,torch_cl")
  p.add_argument("--xla_options", default="",
                 help="JSON dict of XLA compiler options for the xla rows (default: crackjax's, "
                      "crackjax/training/compile_options.py)")
  p.add_argument("--sgemm_size", type=int, default=4096,
                 help="also time an N x N float32 matrix product in each framework (the CPU's practical "
                      "peak); 0 skips it")
  p.add_argument("--json", default="", help="also write the results here")
  return p.parse_args(argv)


def unet_conv_shapes(base: int, depth: int, size: int) -> list[tuple[int, int, int]]:
  """(spatial size, in channels, out channels) of the U-Net's 3x3 convolutions, in network order."""
  shapes, c_in = [], 3
  for level in range(depth + 1):                      # encoder levels and the bottleneck
    c = base * 2 ** level
    shapes += [(size >> level, c_in, c), (size >> level, c, c)]
    c_in = c
  for level in reversed(range(depth)):                # decoder: up-sampled + skip channels in
    c = base * 2 ** level
    shapes += [(size >> level, 2 * c, c), (size >> level, c, c)]
  return shapes


def median_time(fn, reps: int) -> float:
  fn()
  return statistics.median(_timed(fn) for _ in range(reps))


def xla_timers(options: dict):
  import jax

  def conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

  forward = jax.jit(conv, compiler_options=options)
  input_grad = jax.jit(lambda x, w, dy: jax.vjp(lambda x: conv(x, w), x)[1](dy)[0],
                       compiler_options=options)
  weight_grad = jax.jit(lambda x, w, dy: jax.vjp(lambda w: conv(x, w), w)[1](dy)[0],
                        compiler_options=options)

  def timers(x, w, dy):
    x, w, dy = (jax.device_put(a) for a in (x, w, dy))
    return (lambda: forward(x, w).block_until_ready(),
            lambda: input_grad(x, w, dy).block_until_ready(),
            lambda: weight_grad(x, w, dy).block_until_ready())
  return timers


def torch_timers(channels_last: bool):
  import torch
  fmt = torch.channels_last if channels_last else torch.contiguous_format

  def timers(x, w, dy):
    tx, tdy = (torch.from_numpy(a).permute(0, 3, 1, 2).contiguous(memory_format=fmt) for a in (x, dy))
    tw = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous(memory_format=fmt)   # HWIO -> OIHW

    def backward(mask):
      def run():
        with torch.no_grad():
          torch.ops.aten.convolution_backward(tdy, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0],
                                             1, mask)
      return run

    def forward():
      with torch.no_grad():
        torch.conv2d(tx, tw, None, 1, 1)
    return forward, backward([True, False, False]), backward([False, True, False])
  return timers


def sgemm_gflops(names, n: int, reps: int) -> dict[str, float]:
  """GFLOP/s of an n x n float32 matrix product: numpy (its BLAS), XLA's dot, PyTorch's (best of reps)."""
  rng = np.random.default_rng(0)
  a, b = rng.random((n, n), np.float32), rng.random((n, n), np.float32)
  runs = {"numpy": lambda: a @ b}
  if "xla" in names:
    import jax
    ja, jb = jax.device_put(a), jax.device_put(b)
    dot = jax.jit(lambda x, y: x @ y)
    runs["xla"] = lambda: dot(ja, jb).block_until_ready()
  if any(name.startswith("torch") for name in names):
    import torch
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    runs["torch"] = lambda: ta @ tb
  out = {}
  for name, run in runs.items():
    run()
    best = min(_timed(run) for _ in range(reps))
    out[name] = 2 * n ** 3 / best / 1e9
  return out


def _timed(fn) -> float:
  t = time.perf_counter()
  fn()
  return time.perf_counter() - t


def main(argv) -> None:
  args = parse_args(argv)
  names = [n for n in args.contenders.split(",") if n]
  info = {"loadavg_before": os.getloadavg()}
  makers = {}
  if "xla" in names:
    import jax

    from crackjax.training import compile_options
    options = json.loads(args.xla_options) if args.xla_options else compile_options.for_backend()
    makers["xla"] = xla_timers(options)
    info.update(jax=jax.__version__, xla_options=options)
  if any(n.startswith("torch") for n in names):
    import torch
    for n in ("torch", "torch_cl"):
      if n in names:
        makers[n] = torch_timers(channels_last=n == "torch_cl")
    info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())

  shapes = unet_conv_shapes(args.base, args.depth, args.size)
  rng = np.random.default_rng(0)
  rows = []
  for size, c_in, c_out in shapes:
    x = rng.standard_normal((args.batch, size, size, c_in), np.float32)
    w = (rng.standard_normal((3, 3, c_in, c_out)) / np.sqrt(9 * c_in)).astype(np.float32)
    dy = rng.standard_normal((args.batch, size, size, c_out), np.float32)
    row = {"size": size, "c_in": c_in, "c_out": c_out,
           "gflop": 2 * args.batch * size * size * 9 * c_in * c_out / 1e9}
    for n in names:
      row[n] = [median_time(t, args.reps) for t in makers[n](x, w, dy)]
    rows.append(row)
    print(f"  {size}^2 {c_in}->{c_out}: " + "  ".join(
        f"{n} " + "/".join(f"{v * 1e3:.1f}" for v in row[n]) for n in names), file=sys.stderr, flush=True)
  info["loadavg_after"] = os.getloadavg()

  print(f"\nU-Net base {args.base}, depth {args.depth}, batch {args.batch} x {args.size}^2: "
        f"{len(shapes)} 3x3 convolutions; ms per call (median of {args.reps}); "
        f"f = forward, dx = input gradient, dw = weight gradient")
  print(f"load average before/after: {info['loadavg_before'][0]:.2f} / {info['loadavg_after'][0]:.2f}\n")
  header = "| layer | GFLOP | " + " | ".join(f"{n} f | {n} dx | {n} dw" for n in names) + " |"
  print(header)
  print("|---|---:|" + "---:|" * (3 * len(names)))
  for r in rows:
    cells = " | ".join(f"{v * 1e3:.1f}" for n in names for v in r[n])
    print(f"| {r['size']}^2 {r['c_in']}->{r['c_out']} | {r['gflop']:.2f} | {cells} |")
  gflop = sum(r["gflop"] for r in rows)
  totals = {n: [sum(r[n][k] for r in rows) for k in range(3)] for n in names}
  cells = " | ".join(f"**{v * 1e3:.0f}**" for n in names for v in totals[n])
  print(f"| total | {gflop:.1f} | {cells} |\n")
  for n in names:
    f, dx, dw = totals[n]
    print(f"{n}: all three {1e3 * (f + dx + dw):.0f} ms ({3 * gflop / (f + dx + dw):.0f} GFLOP/s); "
          f"forward {f * 1e3:.0f} ms ({gflop / f:.0f} GFLOP/s), input grad {dx * 1e3:.0f} ms, "
          f"weight grad {dw * 1e3:.0f} ms ({gflop / dw:.0f} GFLOP/s)")
  sgemm = sgemm_gflops(names, args.sgemm_size, args.reps) if args.sgemm_size else {}
  if sgemm:
    print(f"\n{args.sgemm_size}^2 float32 matrix product: " +
          ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in sgemm.items()))
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"args": vars(args), "info": info, "rows": rows, "totals_s": totals,
                 "sgemm_gflops": sgemm}, f, indent=1)


if __name__ == "__main__":
  main(sys.argv[1:])

r"""Where one train step's time goes on CPU: XLA:CPU thunk times by kind, from a `jax.profiler` trace.

    flock /tmp/crackjax_timing.lock python benchmarks/profile_step.py
    flock /tmp/crackjax_timing.lock python benchmarks/profile_step.py --contender crackjax --top 40

Builds the U-Net step of benchmarks/train_throughput.py (`--contender flax`: the plain Flax step;
`crackjax`: crackjax's train step), runs `--warmup` steps, then traces `--steps` steps with
`--xla_cpu_enable_xprof_traceme=true` and sums the duration of every traced event per name (fusion
numbers stripped: `transpose_copy_fusion.5` counts as `transpose_copy_fusion`), per step. Convolutions
run on Eigen's own threads and show only as their short dispatch (`convolution`), so the named thunks add
up to less than the step; thunks also run concurrently on several cores, so a kind's time is work done,
not wall time saved by removing it.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile


def parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--contender", default="flax", choices=["flax", "crackjax"])
  p.add_argument("--batch", type=int, default=4)
  p.add_argument("--size", type=int, default=256)
  p.add_argument("--base", type=int, default=16)
  p.add_argument("--warmup", type=int, default=3)
  p.add_argument("--steps", type=int, default=3)
  p.add_argument("--top", type=int, default=25, help="rows of the table")
  return p.parse_args(argv)


_HOST = ("Thunk", "Pjit", "Execute", "shard_args", "ParseArguments")


def thunk_times(trace_dir: str, steps: int) -> tuple[collections.Counter, collections.Counter, float]:
  """ms per step and calls per step of each XLA thunk kind, and the traced wall time per step."""
  (path,) = glob.glob(os.path.join(trace_dir, "**", "perfetto_trace.json.gz"), recursive=True)
  events = json.load(gzip.open(path))
  events = events["traceEvents"] if isinstance(events, dict) else events
  ms, calls = collections.Counter(), collections.Counter()
  wall = 0.0
  for e in events:
    if e.get("ph") != "X":
      continue
    name = e["name"]
    if name == "ThunkExecutor::Execute (wait for completion)":
      wall += e.get("dur", 0) / 1e3 / steps
    if name.startswith("$") or any(h in name for h in _HOST):
      continue                                   # Python frames, dispatch and executor bookkeeping
    kind = re.sub(r"\.\d+$", "", name)
    ms[kind] += e.get("dur", 0) / 1e3 / steps
    calls[kind] += 1
  return ms, calls, wall


def main(argv) -> None:
  args = parse_args(argv)
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_cpu_enable_xprof_traceme=true").strip()
  import jax
  import train_throughput   # benchmarks/ (the script's directory is on sys.path)

  bench_args = train_throughput.parse_args(["--batch", str(args.batch), "--size", str(args.size),
                                            "--base", str(args.base)])
  runners, _ = train_throughput.jax_contenders(bench_args, [args.contender])
  run = runners[args.contender]
  for _ in range(args.warmup):
    run()
  with tempfile.TemporaryDirectory() as trace_dir:
    with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
      for _ in range(args.steps):
        run()
    ms, calls, wall = thunk_times(trace_dir, args.steps)
  print(f"\n{args.contender} step, U-Net base {args.base}, batch {args.batch} x {args.size}^2: "
        f"{wall:.0f} ms per step under tracing, {sum(ms.values()):.0f} ms in named thunks "
        f"(mean of {args.steps} traced steps; load average {os.getloadavg()[0]:.2f})\n")
  print("| thunk kind | ms per step | calls per step |")
  print("|---|---:|---:|")
  for kind, t in ms.most_common(args.top):
    print(f"| {kind} | {t:.1f} | {calls[kind] / args.steps:.0f} |")


if __name__ == "__main__":
  main(sys.argv[1:])

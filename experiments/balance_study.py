r"""The balance study: the same network trained under every imbalance method, several seeds, one budget.

    python experiments/balance_study.py --manual_dir ../shared/datasets/cfd --out docs/balance_study.md

Each (method, seed) is one `python -m crackjax.main` run in `--workroot/<method>_s<seed>` (a finished run
is reused, an interrupted one resumes), so the study can be stopped and restarted. The checkpoint is
chosen on the validation split (best val/f1); the test split is touched once per run, at the end.
The table reports mean ± standard deviation over seeds and the per-seed values, with the exact command,
the machine and the wall time, whatever they show.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

METHODS = ("bce", "wbce", "focal", "dice", "bce_dice", "rao", "rumc", "ran", "ran_weights", "ran_sampling")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, method: str, seed: int) -> dict:
  workdir = os.path.join(args.workroot, f"{method}_s{seed}")
  cmd = [sys.executable, "-m", "crackjax.main", "--config", args.config, "--workdir", workdir,
         f"--config.balance.method={method}", f"--config.seed={seed}",
         f"--config.data.name={args.data_name}", f"--config.data.manual_dir={args.manual_dir}",
         "--config.progress_bar=False", *args.override]
  final_path = os.path.join(workdir, "eval", "final.json")
  if not os.path.exists(final_path):
    if args.report_only:
      return None
    print(f"[{time.strftime('%H:%M:%S')}] {method} seed {seed}: {shlex.join(cmd)}", flush=True)
    with open(os.path.join(args.workroot, f"{method}_s{seed}.log"), "w") as log:
      proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode:
      raise SystemExit(f"{method} seed {seed} failed (exit {proc.returncode}); see "
                       f"{args.workroot}/{method}_s{seed}.log")
  with open(final_path) as f:
    final = json.load(f)
  events = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl")) if l.strip()]
  val = [e for e in events if "val/f1" in e]
  best_val = max(val, key=lambda e: e["val/f1"]) if val else {}
  return {"method": method, "seed": seed, "P": final["precision"], "R": final["recall"],
          "F1": final["f1"], "IoU": final["iou"], "gap": abs(final["precision"] - final["recall"]),
          "val_f1": best_val.get("val/f1", float("nan")), "step": final["checkpoint_step"]}


def _fmt(values: list[float]) -> str:
  if len(values) == 1:
    return f"{values[0]:.3f}"
  return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", default="configs/cfd.py")
  p.add_argument("--data_name", default="crack_folder")
  p.add_argument("--manual_dir", default="../shared/datasets/cfd")
  p.add_argument("--methods", default=",".join(METHODS))
  p.add_argument("--seeds", default="0,1")
  p.add_argument("--workroot", default="/tmp/crackjax_balance_study")
  p.add_argument("--out", default="", help="markdown file for the table (stdout only if empty)")
  p.add_argument("--report_only", action="store_true",
                 help="tabulate the finished runs only; list the missing ones instead of running them")
  p.add_argument("--override", action="append", default=[],
                 help="extra --config.key=value for every run (repeatable)")
  args = p.parse_args()
  if not os.path.isdir(args.manual_dir):
    raise SystemExit(f"--manual_dir {args.manual_dir} does not exist; the study needs a copy of the data.")
  os.makedirs(args.workroot, exist_ok=True)
  methods, seeds = args.methods.split(","), [int(s) for s in args.seeds.split(",")]

  t0 = time.time()
  rows, missing = [], []
  for m in methods:
    for s in seeds:
      row = _run(args, m, s)
      if row is None:
        missing.append(f"{m} seed {s}")
      else:
        rows.append(row)
  wall = time.time() - t0

  lines = ["| method | precision | recall | F1 | IoU | \\|P − R\\| | val F1 (selection) | per-seed test F1 |",
           "|---|---|---|---|---|---|---|---|"]
  for m in methods:
    r = [x for x in rows if x["method"] == m]
    if not r:
      continue
    per_seed = ", ".join(f"{x['F1']:.3f}" for x in r)
    lines.append(f"| `{m}` | {_fmt([x['P'] for x in r])} | {_fmt([x['R'] for x in r])} | "
                 f"{_fmt([x['F1'] for x in r])} | {_fmt([x['IoU'] for x in r])} | "
                 f"{_fmt([x['gap'] for x in r])} | {_fmt([x['val_f1'] for x in r])} | {per_seed} |")
  command = shlex.join([sys.executable.split("/")[-1], *sys.argv])
  try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
  except (OSError, StopIteration):
    cpu = platform.processor()
  report = "\n".join([
      f"Command: `{command}`", "",
      f"Machine: {os.cpu_count()} CPU cores ({cpu}), {platform.system()} {platform.release()}; "
      + ("" if args.report_only else
         f"wall time of the runs made by this invocation: {wall / 60:.1f} min; ")
      + f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.", "",
      f"Seeds: {seeds}. Test split evaluated once per run, on the checkpoint with the best val F1.", "",
      *lines, "",
      *([f"Not yet run (the same command runs them; finished runs are reused): {', '.join(missing)}.", ""]
        if missing else [])])
  print(report)
  if args.out:
    with open(args.out + ".table.md", "w") as f:
      f.write(report)
    print(f"table written to {args.out}.table.md; paste it into {args.out} with the discussion.")


if __name__ == "__main__":
  main()

r"""Tuning `ran` on the validation split: eta, interval, warm-up, rate bounds and budget, one at a time.

    python experiments/ran_tuning.py --manual_dir ../shared/datasets/cfd --workroot /tmp/crackjax_ran_tuning \
        --override=--config.data.tfds_dir=/tmp/study_tfds

Every variant is the balance study's `ran` run (configs/cfd.py, U-Net base 8, 400 steps of 8 patches of
128x128, evaluations every 100 steps) with one group of keys changed, trained with the same seeds. The
table reports the validation scores (12 images, pooled, threshold 0.5) of each run's best evaluation by val
F1, read from its metrics.jsonl; every run ends with `eval.final_split=val`, so tuning never reads the
test split. The references (`ran` as in the study, and `bce`) are rerun here rather than reused from the
study, so that every row comes from the same code. The chosen variant is then run on the test split
by `experiments/balance_study.py` like every other method. A finished run is reused and an interrupted one
resumes, so the command can be stopped and restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import balance_study  # noqa: E402  (same directory)

BASE = ("--config.model.base_channels=8", "--config.total_steps=400", "--config.eval_every=100",
        "--config.checkpoint_every=100")

# name -> overrides on top of BASE (the study's ran: eta 0.5/0.5, interval 20, no warm-up, rate (0.02, 0.98)).
VARIANTS = {
    "ran (study default)": (),
    "eta 0.25": ("--config.balance.eta_weights=0.25", "--config.balance.eta_sampling=0.25"),
    "eta 0.1": ("--config.balance.eta_weights=0.1", "--config.balance.eta_sampling=0.1"),
    "interval 50": ("--config.balance.interval=50",),
    "warm-up 100 steps": ("--config.balance.warmup_steps=100",),
    "rate bounds 0.3-0.9": ("--config.balance.rate_bounds=(0.3,0.9)",),
    "bce (reference)": ("--config.balance.method=bce",),
}


def best_val(workdir: str) -> dict | None:
  """The evaluation with the best val F1 in `workdir`/metrics.jsonl (None while the run is unfinished)."""
  if not os.path.exists(os.path.join(workdir, "eval", "final.json")):
    return None
  events = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl")) if l.strip()]
  best = max((e for e in events if "val/f1" in e), key=lambda e: e["val/f1"])
  p, r = best["val/precision"], best["val/recall"]
  return {"P": p, "R": r, "F1": best["val/f1"], "IoU": best["val/iou"], "gap": abs(p - r),
          "step": best["step"]}


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", default="configs/cfd.py")
  p.add_argument("--data_name", default="crack_folder")
  p.add_argument("--manual_dir", default="../shared/datasets/cfd")
  p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names from VARIANTS")
  p.add_argument("--seeds", default="0,1")
  p.add_argument("--workroot", default="/tmp/crackjax_ran_tuning")
  p.add_argument("--report_only", action="store_true", help="tabulate finished runs only")
  p.add_argument("--override", action="append", default=[], help="extra --config.key=value for every run")
  args = p.parse_args()
  if not os.path.isdir(args.manual_dir):
    raise SystemExit(f"--manual_dir {args.manual_dir} does not exist; tuning needs a copy of the data.")
  names = [n for n in args.variants.split(",") if n]
  unknown = [n for n in names if n not in VARIANTS]
  if unknown:
    raise SystemExit(f"unknown --variants {unknown}; choose from {list(VARIANTS)}")
  seeds = [int(s) for s in args.seeds.split(",")]

  t0 = time.time()
  lines = ["| variant | val precision | val recall | val F1 | val IoU | val \\|P − R\\| | per-seed val F1 "
           "(step) |", "|---|---|---|---|---|---|---|"]
  missing = []
  for name in names:
    extra = VARIANTS[name]
    method = next((e.split("=", 1)[1] for e in extra if e.startswith("--config.balance.method=")), "ran")
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    run_args = argparse.Namespace(
        config=args.config, data_name=args.data_name, manual_dir=args.manual_dir,
        workroot=os.path.join(args.workroot, slug), report_only=args.report_only,
        override=[*BASE, *[e for e in extra if not e.startswith("--config.balance.method=")],
                  "--config.eval.final_split=val", *args.override])
    os.makedirs(run_args.workroot, exist_ok=True)
    rows = []
    for s in seeds:
      workdir = os.path.join(run_args.workroot, f"{method}_s{s}")
      row = best_val(workdir)
      if row is None and not args.report_only:
        balance_study._run(run_args, method, s)
        row = best_val(workdir)
      if row is None:
        missing.append(f"{name} seed {s}")
      else:
        rows.append(row)
    if rows:
      f = balance_study._fmt
      per_seed = ", ".join(f"{r['F1']:.3f} ({r['step']})" for r in rows)
      lines.append(f"| {name} | {f([r['P'] for r in rows])} | {f([r['R'] for r in rows])} | "
                   f"{f([r['F1'] for r in rows])} | {f([r['IoU'] for r in rows])} | "
                   f"{f([r['gap'] for r in rows])} | {per_seed} |")
  print(f"Command: `{shlex.join(['python', *sys.argv])}`\n")
  print(f"Seeds {seeds}; validation split (12 images), best evaluation by val F1; wall time of this "
        f"invocation {(time.time() - t0) / 60:.1f} min; load average now "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}.\n")
  print("\n".join(lines))
  if missing:
    print(f"\nNot yet run: {', '.join(missing)}.")


if __name__ == "__main__":
  main()

r"""The balance study: one network trained under every imbalance method, several seeds, one budget.

    python experiments/balance_study.py --study hrrc_synthetic --split test \
        --methods bce,wbce,focal,dice,bce_dice,rao,rumc,ran,ran_weights,ran_sampling --seeds 0,1,2

Each (method, seed) is one `python -m crackjax.main` run in `--workroot/<study>/<split>/<method>_s<seed>`:
a finished run is reused and an interrupted one resumes, so the study can be stopped and restarted at any
time, over days. `--split val` is the tuning mode: every run ends on the validation split
(`eval.final_split=val`) and never reads the test split. With `--split test` the checkpoint is still chosen
on the validation split (best val/f1) and the test split is read once per run, at the end.

A "method" is an imbalance method of `balance.method` or a named variant from VARIANTS below (a method plus
controller settings), so tuning candidates and the chosen setting run through the same code. The table
gives, per method, mean ± standard deviation over seeds of precision, recall and F1 at threshold 0.5, ODS
F1 and its threshold (best threshold over the split, pooled), |P - R|, the selection's val F1, and the
paired difference of F1 at 0.5 against `--baseline` with a 95% confidence interval (t distribution over
the seeds both ran). Each row names the code version its runs were made with (`code_version.txt`, written
at a run's start). A finished run is reused only if its saved `config.balance` is what the command asks
for now (the variant's overrides on the current defaults): `ran` meant eta 0.5 until the default became
0.1, so such a run must be named `ran_eta0.5` (rename its folder), never silently reported as `ran`.
`--curves FILE` plots val F1 against the step for the listed runs. `--leave_out STEMS`
also tabulates the split pooled without the named images (from per-image counts); `--composition` lists each
image's crack and distractor pixels of a synthetic study.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy.stats

METHODS = ("bce", "wbce", "focal", "dice", "bce_dice", "rao", "rumc", "ran", "ran_weights", "ran_sampling")
FIXED = ("bce", "wbce", "focal", "dice", "bce_dice", "rao", "rumc")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)   # in-process imports read the same crackjax as the runs (`cwd=REPO`), worktrees too

# Datasets of the study: the config and the overrides every run of it gets.
STUDIES = {
    "cfd": ("configs/cfd.py", ("--config.data.name=crack_folder",
                               "--config.data.manual_dir=../shared/datasets/cfd",
                               "--config.model.base_channels=8", "--config.total_steps=400",
                               "--config.eval_every=100", "--config.checkpoint_every=100")),
    "hrrc_synthetic": ("configs/hrrc_synthetic.py", ()),
    "uav75": ("configs/uav75.py", ("--config.data.manual_dir=../shared/datasets/uav75",)),
}

# Named variants: (balance.method, overrides). Controller options: docs/balanced_learning.md.
_ETA = lambda eta: (f"--config.balance.eta_weights={eta}", f"--config.balance.eta_sampling={eta}")
VARIANTS = {
    # The CFD tuning of docs/balance_study.md (one change at a time from the default ran).
    "ran_eta0.25": ("ran", _ETA(0.25)),
    "ran_eta0.1": ("ran", _ETA(0.1)),
    "ran_eta0.5": ("ran", _ETA(0.5)),       # the default step size until 2026-12-07
    "ran_interval50": ("ran", ("--config.balance.interval=50",)),
    "ran_warmup100": ("ran", ("--config.balance.warmup_steps=100",)),
    "ran_rate0.3-0.9": ("ran", ("--config.balance.rate_bounds=(0.3,0.9)",)),
    # The controller options on the extreme-imbalance sets.
    "ran_natural": ("ran", ("--config.balance.measure=natural",)),
    "ran_eta0.1_natural": ("ran", (*_ETA(0.1), "--config.balance.measure=natural")),
    "ran_pi_natural": ("ran", (*_ETA(0.25), "--config.balance.kp=1.0", "--config.balance.measure=natural")),
    "ran_adaptive_natural": ("ran", ("--config.balance.adaptive_step=true", "--config.balance.measure=natural")),
    "ran_pi_natural_norm": ("ran", (*_ETA(0.25), "--config.balance.kp=1.0", "--config.balance.measure=natural",
                                    "--config.balance.normalize_weights=true")),
    "ran_sampling_pi_natural": ("ran_sampling", (*_ETA(0.25), "--config.balance.kp=1.0",
                                                 "--config.balance.measure=natural")),
    "ran_val": ("ran", ("--config.balance.measure=val", "--config.balance.prf=log_ratio")),
    "ran_natural_eval": ("ran", ("--config.balance.measure=natural_eval",)),
    "ran_pi_natural_eval": ("ran", (*_ETA(0.25), "--config.balance.kp=1.0",
                                    "--config.balance.measure=natural_eval")),
    "ran_natural_eval_warmup100": ("ran", ("--config.balance.measure=natural_eval",
                                           "--config.balance.warmup_steps=100")),
}


def _method_and_overrides(name: str) -> tuple[str, tuple[str, ...]]:
  if name in METHODS:
    return name, ()
  if name in VARIANTS:
    return VARIANTS[name]
  raise SystemExit(f"unknown method {name!r}; choose from {list(METHODS) + list(VARIANTS)}")


def code_version() -> str:
  """`<commit>` of the repository, with `+dirty:<hash of the diff>` when the tree has changes."""
  git = lambda *a: subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()
  version = git("rev-parse", "--short=8", "HEAD")
  diff = git("diff", "HEAD", "--", "crackjax", "configs")
  if diff:
    import hashlib  # noqa: PLC0415
    version += "+dirty:" + hashlib.sha1(diff.encode()).hexdigest()[:8]
  return version


def workdir_of(args, name: str, seed: int) -> str:
  return os.path.join(args.workroot, args.study, args.split, f"{name}_s{seed}")


def run(args, name: str, seed: int) -> str | None:
  """Trains (or resumes) one run unless it is finished; returns its workdir, None if not finished."""
  method, extra = _method_and_overrides(name)
  config, study_overrides = STUDIES[args.study]
  workdir = workdir_of(args, name, seed)
  final_path = os.path.join(workdir, "eval", "final.json")
  if os.path.exists(final_path):
    check_balance_of(workdir, name, method, (*extra, *args.override))
    return workdir
  if args.report_only:
    return None
  cmd = [sys.executable, "-m", "crackjax.main", "--config", config, "--workdir", workdir,
         f"--config.balance.method={method}", f"--config.seed={seed}", "--config.progress_bar=False",
         f"--config.eval.final_split={args.split}", *study_overrides, *extra, *args.override]
  os.makedirs(workdir, exist_ok=True)
  version_path = os.path.join(workdir, "code_version.txt")
  with open(version_path, "a") as f:   # one line per start: a resumed run lists every version it ran on
    f.write(f"{time.strftime('%Y-%m-%d %H:%M')} {code_version()}\n")
  print(f"[{time.strftime('%H:%M:%S')}] {args.study}/{args.split} {name} seed {seed}: {shlex.join(cmd)}",
        flush=True)
  t0 = time.time()
  with open(workdir + ".log", "w") as log:
    proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
  if proc.returncode:
    raise SystemExit(f"{name} seed {seed} failed (exit {proc.returncode}); see {workdir}.log")
  with open(os.path.join(workdir, "wall_minutes.txt"), "w") as f:
    f.write(f"{(time.time() - t0) / 60:.2f} load {os.getloadavg()[0]:.1f}\n")
  return workdir


_CONTROLLER_KEYS = {"interval", "prf", "warmup_steps", "eta_weights", "eta_sampling", "weight_bounds",
                    "rate_bounds", "measure", "measure_every", "kp", "smoothing", "dead_band",
                    "adaptive_step", "normalize_weights"}


def expected_balance(method: str, overrides) -> dict:
  """The `config.balance` a run of `method` with `overrides` (`--config.balance.key=value` flags) gets
  now: crackjax's current defaults with the overrides applied (the studies' configs set no balance key)."""
  from crackjax import config_base  # noqa: PLC0415
  balance = json.loads(config_base.base().balance.to_json_best_effort())
  balance["method"] = method
  for flag in overrides:
    key, _, value = flag.partition("=")
    if key.startswith("--config.balance."):
      try:
        parsed = ast.literal_eval({"true": "True", "false": "False"}.get(value.lower(), value))
      except (ValueError, SyntaxError):
        parsed = value
      balance[key[len("--config.balance."):]] = list(parsed) if isinstance(parsed, tuple) else parsed
  return balance


def check_balance_of(workdir: str, name: str, method: str, overrides) -> None:
  """Refuses to reuse a finished run whose saved `config.balance` differs from what `name` means now
  (a default changed since it ran): the table would report it under the wrong name."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f).get("balance", {})
  expected = expected_balance(method, overrides)
  # A fixed method has no controller: its settings leave such a run unchanged.
  ignored = _CONTROLLER_KEYS if method in FIXED else set()
  diff = {k: (saved[k], expected[k]) for k in saved.keys() & expected.keys() - ignored
          if saved[k] != expected[k]}
  if diff:
    changes = "; ".join(f"balance.{k}: the run has {a!r}, {name!r} means {b!r} now" for k, (a, b) in
                        sorted(diff.items()))
    raise SystemExit(f"{workdir} is not a run of {name!r} as it is defined now ({changes}): rename its "
                     f"folder to the variant it ran (e.g. ran_eta0.5_s<seed> for the earlier default), or "
                     f"use another --workroot.")


def row_of(workdir: str, name: str, seed: int) -> dict:
  with open(os.path.join(workdir, "eval", "final.json")) as f:
    final = json.load(f)
  events = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl")) if l.strip()]
  val = [e for e in events if "val/f1" in e]
  best_val = max(val, key=lambda e: e["val/f1"]) if val else {}
  versions = [l.split()[-1] for l in open(os.path.join(workdir, "code_version.txt")) if l.strip()] \
      if os.path.exists(os.path.join(workdir, "code_version.txt")) else ["?"]
  return {"method": name, "seed": seed, "P": final["precision"], "R": final["recall"], "F1": final["f1"],
          "ODS": final["ods_f1_pooled_grid100"], "t_ODS": final["ods_threshold_pooled_grid100"],
          "gap": abs(final["precision"] - final["recall"]), "val_f1": best_val.get("val/f1", float("nan")),
          "step": final["checkpoint_step"], "code": "/".join(dict.fromkeys(versions)),
          "loop": loop_of(workdir) if name not in FIXED else None}


def loop_of(workdir: str) -> dict | None:
  """The closed loop of one run from its metrics.jsonl: the weight ratio's peak (wind-up) and end, the
  positive-patch rate, and over the last 10 intervals mean |PRF|, PRF sign flips and the measured P, R."""
  events = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl")) if l.strip()]
  b = [e for e in events if "balance/prf" in e and "balance/pos_weight" in e]
  if not b:
    return None
  ratio = [e["balance/pos_weight"] / e["balance/neg_weight"] for e in b]
  peak = int(np.argmax(ratio))
  last = b[-10:]
  prf = [e["balance/prf"] for e in last]
  return {"peak": ratio[peak], "peak_step": b[peak]["step"], "end": ratio[-1],
          "q_max": max(e["balance/pos_rate"] for e in b), "q_end": b[-1]["balance/pos_rate"],
          "prf": statistics.mean(abs(x) for x in prf), "flips": sum(a * c < 0 for a, c in zip(prf, prf[1:])),
          "P": statistics.mean(e.get("balance/precision", float("nan")) for e in last),
          "R": statistics.mean(e.get("balance/recall", float("nan")) for e in last)}


def loop_table(rows: list[dict], names: list[str], split: str) -> list[str]:
  """Per adaptive run: where the controller went and what it measured, beside the split's P and R."""
  lines = [f"| run | peak w+/w- (step) | end w+/w- | rate q: max, end | last 10 intervals: mean \\|PRF\\|, "
           f"sign flips | measured P / R (last 10) | {split} P / R |", "|---|---|---|---|---|---|---|"]
  for name in names:
    for r in (x for x in rows if x["method"] == name and x["loop"]):
      lp = r["loop"]
      lines.append(f"| `{name}` s{r['seed']} | {lp['peak']:.2f} ({lp['peak_step']}) | {lp['end']:.2f} | "
                   f"{lp['q_max']:.2f}, {lp['q_end']:.2f} | {lp['prf']:.3f}, {lp['flips']} | "
                   f"{lp['P']:.2f} / {lp['R']:.2f} | {r['P']:.3f} / {r['R']:.3f} |")
  return lines if len(lines) > 2 else []


def fmt(values: list[float]) -> str:
  if len(values) == 1:
    return f"{values[0]:.3f}"
  return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def paired(rows: list[dict], base_rows: list[dict]) -> str:
  """Mean paired F1 difference against the baseline's runs of the same seeds, with a 95% t interval."""
  base = {r["seed"]: r["F1"] for r in base_rows}
  diffs = [r["F1"] - base[r["seed"]] for r in rows if r["seed"] in base]
  if len(diffs) < 2:
    return "—"
  mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
  half = scipy.stats.t.ppf(0.975, len(diffs) - 1) * sd / np.sqrt(len(diffs))
  return f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] (n={len(diffs)})"


def table(rows: list[dict], names: list[str], baseline: str, split: str) -> list[str]:
  lines = [f"| method | {split} precision | recall | F1 @0.5 | ODS F1 (threshold) | \\|P − R\\| | "
           f"F1 − `{baseline}` (95% CI) | val F1 (selection) | per-seed F1 | code |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  base_rows = [r for r in rows if r["method"] == baseline]
  for name in names:
    r = [x for x in rows if x["method"] == name]
    if not r:
      continue
    lines.append(
        f"| `{name}` | {fmt([x['P'] for x in r])} | {fmt([x['R'] for x in r])} | {fmt([x['F1'] for x in r])} | "
        f"{fmt([x['ODS'] for x in r])} ({fmt([x['t_ODS'] for x in r])}) | {fmt([x['gap'] for x in r])} | "
        f"{'—' if name == baseline else paired(r, base_rows)} | {fmt([x['val_f1'] for x in r])} | "
        f"{', '.join(f'{x['F1']:.3f}' for x in r)} | {', '.join(sorted({x['code'] for x in r}))} |")
  return lines


def per_image_of(workdir: str, split: str) -> list[dict]:
  """Per-image pixel counts at threshold 0.5 of a finished run's selected checkpoint on `split`: the
  `<split>_per_image.csv` of `python -m crackjax.evaluate` in the run's eval/ (made once, then reused)."""
  path = os.path.join(workdir, "eval", f"{split}_per_image.csv")
  if not os.path.exists(path):
    cmd = [sys.executable, "-m", "crackjax.evaluate", "--workdir", workdir, "--split", split, "--noprogress_bar"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
      raise SystemExit(f"{shlex.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
  images = []
  with open(path) as f:
    for r in csv.DictReader(f):
      gt, predicted = int(r["n_gt_px"]), int(r["n_pred_px"])
      tp = round(float(r["recall"]) * gt) if gt else 0
      images.append({"stem": r["stem"], "tp": tp, "fp": predicted - tp, "fn": gt - tp, "f1": float(r["f1"])})
  return images


def image_table(rows: list[dict], names: list[str], baseline: str, split: str, left_out: list[str]) -> list[str]:
  """Scores pooled over the split's images less `left_out`, per method, and each left-out image per seed."""
  kept_rows = []
  for r in rows:
    unknown = set(left_out) - {im["stem"] for im in r["images"]}
    if unknown:
      raise SystemExit(f"--leave_out names {sorted(unknown)}, not images of the {split} split of "
                       f"{r['method']} seed {r['seed']} (its stems: {[im['stem'] for im in r['images']]})")
    kept = [im for im in r["images"] if im["stem"] not in left_out]
    tp, fp, fn = (sum(im[k] for im in kept) for k in ("tp", "fp", "fn"))
    p, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    kept_rows.append({"method": r["method"], "seed": r["seed"], "P": p, "R": rec, "gap": abs(p - rec),
                      "F1": 2 * tp / max(2 * tp + fp + fn, 1),
                      "out": [im for stem in left_out for im in r["images"] if im["stem"] == stem]})
  lines = [f"Pooled over the {split} images less {', '.join(left_out)} (per-image counts of each run's selected "
           f"checkpoint at threshold 0.5; the left-out images' F1 and false-positive pixels per seed at the right):",
           "", f"| method | precision | recall | F1 @0.5 | \\|P − R\\| | F1 − `{baseline}` (95% CI) | per-seed F1 | "
           f"left out: F1 (false-positive px) per seed |", "|---|---|---|---|---|---|---|---|"]
  base_rows = [r for r in kept_rows if r["method"] == baseline]
  for name in names:
    r = [x for x in kept_rows if x["method"] == name]
    if not r:
      continue
    out = "; ".join(", ".join(f"{im['f1']:.3f} ({im['fp']:,})" for im in x["out"]) for x in r)
    lines.append(f"| `{name}` | {fmt([x['P'] for x in r])} | {fmt([x['R'] for x in r])} | {fmt([x['F1'] for x in r])} | "
                 f"{fmt([x['gap'] for x in r])} | {'—' if name == baseline else paired(r, base_rows)} | "
                 f"{', '.join(f'{x['F1']:.3f}' for x in r)} | {out} |")
  return lines


def synthetic_composition(config_path: str) -> list[str]:
  """Per image of a synthetic study's dataset: its crack pixels and the pixels of each distractor kind,
  redrawn from the generator (the images the study trains and scores on, same seed and spec)."""
  import importlib.util  # noqa: PLC0415
  from crackjax.data import builders, sources, synthetic  # noqa: PLC0415
  spec_loader = importlib.util.spec_from_file_location("study_config", os.path.join(REPO, config_path))
  module = importlib.util.module_from_spec(spec_loader)
  spec_loader.loader.exec_module(module)
  data = module.get_config().data
  if data.name != "synthetic":
    raise SystemExit(f"--composition needs a synthetic study; {config_path} reads data.name={data.name!r}")
  draw = sources.synthetic_builder_config(data)
  lines = ["| split | image | crack px | " + " | ".join(f"{k} px" for k in synthetic.DISTRACTOR_KINDS) + " |",
           "|---|---|---|" + "---|" * len(synthetic.DISTRACTOR_KINDS)]
  for split, count in draw.split_sizes.items():
    for i in range(count):
      index = builders.SYNTHETIC_SPLIT_OFFSETS[split] + i
      layers = synthetic.generate_layers(draw.seed, index, draw.spec)
      lines.append(f"| {split} | synthetic_{index:07d} | {int(layers['mask'].sum()):,} | "
                   + " | ".join(f"{int(layers[k].sum()):,}" for k in synthetic.DISTRACTOR_KINDS) + " |")
  return lines


def best_fixed(rows: list[dict]) -> str | None:
  """The fixed method with the highest mean validation F1 (the selection's, never the test split's)."""
  scores = {m: statistics.mean(r["val_f1"] for r in rows if r["method"] == m)
            for m in FIXED if any(r["method"] == m for r in rows)}
  return max(scores, key=scores.get) if scores else None


def plot_curves(args, names: list[str], seeds: list[int], path: str) -> None:
  import matplotlib  # noqa: PLC0415
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415
  fig, ax = plt.subplots(figsize=(7, 4))
  for name in names:
    for seed in seeds:
      metrics = os.path.join(workdir_of(args, name, seed), "metrics.jsonl")
      if not os.path.exists(metrics):
        continue
      ev = [json.loads(l) for l in open(metrics) if l.strip()]
      ev = [e for e in ev if "val/f1" in e]
      ax.plot([e["step"] for e in ev], [e["val/f1"] for e in ev], marker="o", ms=3, label=f"{name} s{seed}")
  ax.set_xlabel("step")
  ax.set_ylabel("val F1 @0.5 (pooled)")
  ax.set_title(f"{args.study}: validation F1 during training")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  print(f"curves written to {path}")


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--study", choices=sorted(STUDIES), required=True)
  p.add_argument("--split", choices=("val", "test"), default="test",
                 help="val: tuning (runs end on val, test is never read); test: the final numbers")
  p.add_argument("--methods", default=",".join(METHODS), help="methods of balance.method or VARIANTS names")
  p.add_argument("--seeds", default="0,1,2")
  p.add_argument("--baseline", default="auto",
                 help="method for the paired differences; auto: the fixed method with the best val F1")
  p.add_argument("--workroot", default="/tmp/crackjax_balance_study")
  p.add_argument("--report_only", action="store_true",
                 help="tabulate the finished runs only; list the missing ones instead of running them")
  p.add_argument("--curves", default="", help="PNG file: val F1 against the step of the listed runs")
  p.add_argument("--leave_out", default="",
                 help="comma-separated image stems: also tabulate the split pooled without them, and their "
                      "own F1, from per-image counts (crackjax.evaluate is run once per run when missing)")
  p.add_argument("--composition", action="store_true",
                 help="synthetic studies: list each image's crack and distractor pixels (redrawn, ~15 s an image)")
  p.add_argument("--override", action="append", default=[],
                 help="extra --config.key=value for every run (repeatable; part of the run's identity only "
                      "through config.json, so use a separate --workroot)")
  args = p.parse_args()
  config, study_overrides = STUDIES[args.study]
  manual = [o.split("=", 1)[1] for o in study_overrides if o.startswith("--config.data.manual_dir=")]
  if manual and not os.path.isdir(os.path.join(REPO, manual[0])):
    raise SystemExit(f"{manual[0]} (relative to {REPO}) does not exist; the {args.study} study needs that "
                     "copy of the data.")
  names = [n for n in args.methods.split(",") if n]
  for n in names:
    _method_and_overrides(n)
  seeds = [int(s) for s in args.seeds.split(",")]

  t0 = time.time()
  rows, missing = [], []
  for seed in seeds:       # seed-major: every method gets its first seed before any gets its second
    for name in names:
      workdir = run(args, name, seed)
      if workdir is None:
        missing.append(f"{name} seed {seed}")
      else:
        rows.append(row_of(workdir, name, seed))
        if args.leave_out:
          rows[-1]["images"] = per_image_of(workdir, args.split)
  wall = time.time() - t0

  baseline = best_fixed(rows) if args.baseline == "auto" else args.baseline
  command = shlex.join(["python", *sys.argv])
  try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
  except (OSError, StopIteration):
    cpu = platform.processor()
  report = "\n".join([
      f"Command: `{command}`", "",
      f"Config: `{config}` with {' '.join(study_overrides) or 'no overrides'}.", "",
      f"Machine: {os.cpu_count()} CPU cores ({cpu}), {platform.system()} {platform.release()}; "
      + ("" if args.report_only else f"wall time of the runs made by this invocation: {wall / 60:.1f} min; ")
      + f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.", "",
      f"Seeds: {seeds}. Split: {args.split} (checkpoint chosen by val F1"
      + ("; the test split is read once per run)." if args.split == "test" else "; test never read)."),
      f"Baseline of the paired differences: `{baseline}`"
      + (" (the fixed method with the best mean val F1)." if args.baseline == "auto" else "."), "",
      *table(rows, names, baseline, args.split), "",
      *loop_table(rows, names, args.split), "",
      *(image_table(rows, names, baseline, args.split, args.leave_out.split(",")) + [""] if args.leave_out else []),
      *(synthetic_composition(config) + [""] if args.composition else []),
      *([f"Not yet run (the same command runs them; finished runs are reused): {', '.join(missing)}.", ""]
        if missing else [])])
  print(report)
  if args.curves:
    plot_curves(args, names, seeds, args.curves)


if __name__ == "__main__":
  main()

r"""Trains, evaluates and ships the models of crackjax/pretrained/ (their cards: docs/models.md).

    python experiments/train_shipped_models.py --datasets ../shared/datasets \
        --workroot /tmp/crackjax_shipped --ship

For each model of SHIPPED: trains it with crackjax's own CLI (`python -m crackjax.main`, resumable: a
finished run is reused, an interrupted one resumes), evaluates its best checkpoint (by val F1) with
`python -m crackjax.evaluate` on the test split of every road dataset in TEST_DATASETS (its own and,
cross-dataset, the others), and with `--ship` writes the model folder into crackjax/pretrained/<name>/
(crackjax/inference/model_folder.py) with a card holding the data, licence terms, config, steps,
wall time and every metric. It prints the model card's metric table for docs/models.md.

Each dataset's evaluation is written by `crackjax.evaluate --output` to WORKDIR/eval/cross/<dataset>/
(test.json, test_per_image.csv, pr_curve.png), the model's own dataset included.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Road datasets of ../shared/datasets (their README): folder -> what the card says about it.
DATASETS = {
    "crack500": {"title": "CRACK500 (Zhang et al. ICIP 2016; Yang et al. T-ITS 2019), 640x360 crops of "
                          "phone photos of pavement",
                 "licence": "research use only (the authors' terms; not for commercial use)"},
    "cfd": {"title": "CFD / CrackForest (Shi et al. T-ITS 2016), 480x320 asphalt images",
            "licence": "research use only (non-commercial, as distributed by the authors)"},
    "aigle": {"title": "AigleRN + TRIMM (Amhaz et al. T-ITS 2016), crops",
              "licence": "research use only (as distributed by the authors)"},
}
TEST_DATASETS = ("crack500", "cfd", "aigle")

# name -> (config file, training dataset folder, one-line summary)
SHIPPED = {
    "unet_crack500": ("configs/crack500_shipped.py", "crack500",
                      "U-Net (16 base channels, 4 levels, 1.94 M parameters) trained with tuned RAN on CRACK500"),
}

KEYS = ("precision", "recall", "f1", "iou", "ods_f1_pooled_grid100", "ois_f1_mean_per_image_grid100",
        "ap_pooled_stepwise_grid100", "relaxed_f1_r2px_pooled", "cldice_pooled")


def _run(cmd: list[str], log: str) -> None:
  print("$", " ".join(cmd), flush=True)
  with open(log, "a") as f:
    f.write(f"\n$ {' '.join(cmd)}\n")
    f.flush()
    proc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
  if proc.returncode:
    raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}; see {log}")


def _evaluate(workdir: str, dataset: str, datasets_root: str, tfds_dir: str, own: str, log: str) -> dict:
  """The test split of `dataset` with the run's best checkpoint; cached in eval/cross/<dataset>/."""
  cross = os.path.join(workdir, "eval", "cross", dataset)
  path = os.path.join(cross, "test.json")
  if not os.path.exists(path):
    cmd = [sys.executable, "-m", "crackjax.evaluate", "--workdir", workdir, "--split", "test",
           "--output", cross, "--noprogress_bar", f"--config.data.tfds_dir={tfds_dir}"]
    if dataset != own:
      cmd += ["--config.data.name=crack_folder",
              f"--config.data.manual_dir={os.path.join(datasets_root, dataset)}"]
    _run(cmd, log)
  with open(path) as f:
    return json.load(f)


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--datasets", default="../shared/datasets", help="the shared datasets folder")
  p.add_argument("--workroot", default="/tmp/crackjax_shipped", help="workdirs, prepared data, logs")
  p.add_argument("--models", default=",".join(SHIPPED), help="comma-separated names from SHIPPED")
  p.add_argument("--ship", action="store_true", help="write the model folders into crackjax/pretrained/")
  args = p.parse_args()
  datasets_root = os.path.abspath(args.datasets)
  tfds_dir = os.path.join(args.workroot, "tfds")
  os.makedirs(args.workroot, exist_ok=True)
  for name in args.models.split(","):
    config, own, summary = SHIPPED[name]
    workdir = os.path.join(args.workroot, name)
    log = os.path.join(args.workroot, f"{name}.log")
    t0 = time.time()
    if not os.path.exists(os.path.join(workdir, "eval", "final.json")):
      _run([sys.executable, "-m", "crackjax.main", "--config", config, "--workdir", workdir,
            f"--config.data.manual_dir={os.path.join(datasets_root, own)}",
            f"--config.data.tfds_dir={tfds_dir}", "--config.progress_bar=false"], log)
    # Wall time of the training run: config.json is written at its start, final.json at its end.
    started = os.stat(os.path.join(workdir, "config.json")).st_mtime
    ended = os.stat(os.path.join(workdir, "eval", "final.json")).st_mtime
    results = {d: _evaluate(workdir, d, datasets_root, tfds_dir, own, log) for d in TEST_DATASETS if d != own}
    results[own] = _evaluate(workdir, own, datasets_root, tfds_dir, own, log)
    with open(os.path.join(workdir, "config.json")) as f:
      cfg = json.load(f)
    metrics = {d: {k: results[d][k] for k in KEYS} | {"images": results[d]["images"],
                                                      "checkpoint_step": results[d]["checkpoint_step"]}
               for d in TEST_DATASETS}
    card = {
        "name": name,
        "summary": summary,
        "config_file": config,
        "trained_on": {"dataset": own, **DATASETS[own], "splits": "train (patches), val (checkpoint choice)"},
        "licence_terms": {d: DATASETS[d]["licence"] for d in TEST_DATASETS},
        "total_steps": cfg["total_steps"],
        "batch_size": cfg["batch_size"],
        "patch_size": cfg["data"]["patch_size"],
        "balance": {k: cfg["balance"][k] for k in ("method", "eta_weights", "eta_sampling", "interval")},
        "threshold": cfg["eval"]["threshold"],
        "train_wall_time_s": round(ended - started),
        "test_metrics": metrics,
        "retrain": "python experiments/train_shipped_models.py --datasets ../shared/datasets "
                   "--workroot /tmp/crackjax_shipped --ship",
        "written": datetime.date.today().isoformat(),
    }
    print(f"\n{name}: trained {cfg['total_steps']} steps in {(ended - started) / 60:.0f} min; "
          f"this invocation {time.time() - t0:.0f} s")
    print("| test split | images | precision | recall | F1 | IoU | ODS F1 | AP | relaxed F1 (2 px) | clDice |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in TEST_DATASETS:
      m = metrics[d]
      print(f"| {d}{' (own)' if d == own else ' (cross)'} | {m['images']} | {m['precision']:.3f} | "
            f"{m['recall']:.3f} | {m['f1']:.3f} | {m['iou']:.3f} | {m['ods_f1_pooled_grid100']:.3f} | "
            f"{m['ap_pooled_stepwise_grid100']:.3f} | {m['relaxed_f1_r2px_pooled']:.3f} | "
            f"{m['cldice_pooled']:.3f} |")
    if args.ship:
      sys.path.insert(0, REPO)
      from crackjax.inference import model_folder  # noqa: PLC0415
      folder = os.path.join(REPO, "crackjax", "pretrained", name)
      written = model_folder.write(workdir, folder, card)
      print(f"shipped {folder} (weights {written['weights_bytes'] / 1e6:.1f} MB, checkpoint "
            f"{written['checkpoint_step']})")


if __name__ == "__main__":
  main()

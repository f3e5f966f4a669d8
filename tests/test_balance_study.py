"""experiments/balance_study.py's tables, on fabricated finished runs: the best fixed baseline is chosen
by validation F1 (never test), the paired differences and their t interval, the closed-loop statistics."""

import importlib.util
import json
import statistics

import numpy as np
import pytest
import scipy.stats

from tests.conftest import REPO


@pytest.fixture(scope="module")
def study():
  spec = importlib.util.spec_from_file_location("balance_study", REPO / "experiments" / "balance_study.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _finished_run(workdir, *, test_f1, val_f1s, balance=None, p=0.6, r=0.7):
  (workdir / "eval").mkdir(parents=True)
  (workdir / "eval" / "final.json").write_text(json.dumps({
      "precision": p, "recall": r, "f1": test_f1, "ods_f1_pooled_grid100": test_f1 + 0.01,
      "ods_threshold_pooled_grid100": 0.45, "checkpoint_step": 200}))
  events = [{"step": 100 * (i + 1), "val/f1": v} for i, v in enumerate(val_f1s)]
  events += balance or []
  (workdir / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
  (workdir / "code_version.txt").write_text("2026-12-07 10:00 abc12345\n2026-12-07 11:00 abc12345\n")
  return workdir


def test_best_fixed_is_chosen_on_validation_and_differences_are_paired_by_seed(study, tmp_path):
  rows = []
  for seed, (fixed_test, fixed_val, ran_test) in enumerate([(0.60, 0.70, 0.65), (0.62, 0.71, 0.66),
                                                            (0.58, 0.69, 0.64)]):
    rows.append(study.row_of(_finished_run(tmp_path / f"dice_s{seed}", test_f1=fixed_test,
                                           val_f1s=[0.5, fixed_val]), "dice", seed))
    # bce has the better test F1 but the worse validation F1: it must not be the baseline.
    rows.append(study.row_of(_finished_run(tmp_path / f"bce_s{seed}", test_f1=0.9, val_f1s=[0.4, 0.5]),
                             "bce", seed))
    rows.append(study.row_of(_finished_run(tmp_path / f"ran_s{seed}", test_f1=ran_test, val_f1s=[0.6]),
                             "ran", seed))
  assert study.best_fixed(rows) == "dice"
  assert rows[0]["val_f1"] == 0.70 and rows[0]["code"] == "abc12345" and rows[0]["loop"] is None

  diffs = [0.05, 0.04, 0.06]
  half = scipy.stats.t.ppf(0.975, 2) * statistics.stdev(diffs) / np.sqrt(3)
  expected = f"+0.050 [{0.05 - half:+.3f}, {0.05 + half:+.3f}] (n=3)"
  assert study.paired([r for r in rows if r["method"] == "ran"],
                      [r for r in rows if r["method"] == "dice"]) == expected
  lines = study.table(rows, ["dice", "ran"], "dice", "test")
  assert len(lines) == 4 and expected in lines[3] and "0.650, 0.660, 0.640" in lines[3]


def test_the_closed_loop_statistics_of_an_adaptive_run(study, tmp_path):
  prf = [0.9, 0.8, -0.1, 0.05, -0.02, 0.03, -0.01, 0.02, -0.03, 0.01, 0.02, -0.02]
  balance = [{"step": 20 * (i + 1), "balance/prf": v, "balance/pos_weight": 1 + 2 * (i == 1),
              "balance/neg_weight": 1.0, "balance/pos_rate": 0.5 + 0.1 * (i == 2),
              "balance/precision": 0.6, "balance/recall": 0.62} for i, v in enumerate(prf)]
  row = study.row_of(_finished_run(tmp_path / "ran_s0", test_f1=0.6, val_f1s=[0.6], balance=balance),
                     "ran", 0)
  loop = row["loop"]
  assert (loop["peak"], loop["peak_step"], loop["end"]) == (3.0, 40, 1.0)
  assert loop["q_max"] == pytest.approx(0.6) and loop["q_end"] == pytest.approx(0.5)
  last = prf[-10:]
  assert loop["prf"] == pytest.approx(statistics.mean(abs(v) for v in last))
  assert loop["flips"] == 8 and loop["P"] == pytest.approx(0.6) and loop["R"] == pytest.approx(0.62)
  lines = study.loop_table([row], ["ran"], "test")
  assert "3.00 (40)" in lines[2] and "0.600 / 0.700" in lines[2]


def _per_image_csv(workdir, images):
  """crackjax.evaluate's per-image CSV for (stem, gt px, tp, fp) rows."""
  lines = ["stem,threshold,n_gt_px,n_pred_px,precision,recall,f1"]
  for stem, gt, tp, fp in images:
    f1 = 2 * tp / (2 * tp + fp + gt - tp)
    lines.append(f"{stem},0.5,{gt},{tp + fp},{tp / (tp + fp)},{tp / gt},{f1}")
  (workdir / "eval" / "test_per_image.csv").write_text("\n".join(lines) + "\n")


def test_scores_pooled_without_named_images_are_paired_by_seed(study, tmp_path):
  rows = []
  for seed, (ran_fp, dice_fp) in enumerate([(10, 30), (20, 30), (0, 40)]):
    for method, fp in (("ran", ran_fp), ("dice", dice_fp)):
      workdir = _finished_run(tmp_path / f"{method}_s{seed}", test_f1=0.5, val_f1s=[0.6])
      # img_b holds a distractor: thousands of false positives that the pooled scores must not see.
      _per_image_csv(workdir, [("img_a", 100, 90, fp), ("img_b", 50, 40, 5000 + seed), ("img_c", 200, 150, 0)])
      row = study.row_of(workdir, method, seed)
      row["images"] = study.per_image_of(str(workdir), "test")
      rows.append(row)
  assert rows[0]["images"][1] == {"stem": "img_b", "tp": 40, "fp": 5000, "fn": 10, "f1": pytest.approx(80 / 5090)}
  lines = study.image_table(rows, ["dice", "ran"], "dice", "test", ["img_b"])
  f1 = lambda fp: 2 * 240 / (2 * 240 + fp + 60)
  diffs = [f1(10) - f1(30), f1(20) - f1(30), f1(0) - f1(40)]
  half = scipy.stats.t.ppf(0.975, 2) * statistics.stdev(diffs) / np.sqrt(3)
  mean = statistics.mean(diffs)
  ran_line = next(l for l in lines if l.startswith("| `ran`"))
  assert f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] (n=3)" in ran_line
  assert f"{f1(10):.3f}, {f1(20):.3f}, {f1(0):.3f}" in ran_line
  assert "0.016 (5,000); 0.016 (5,001); 0.016 (5,002)" in ran_line
  with pytest.raises(SystemExit, match="img_x"):
    study.image_table(rows, ["ran"], "dice", "test", ["img_x"])


def test_the_composition_of_a_synthetic_study_is_redrawn_from_the_generator(study, tmp_path):
  from crackjax.data import synthetic
  config = tmp_path / "tiny.py"
  config.write_text(
      "from crackjax import config_base\n"
      "def get_config():\n"
      "  c = config_base.base()\n"
      "  s = c.data.synthetic\n"
      "  s.height, s.width, s.num_train, s.num_val, s.num_test = 64, 96, 2, 1, 1\n"
      "  return c\n")
  lines = study.synthetic_composition(str(config))
  assert len(lines) == 2 + 4 and lines[2].startswith("| train | synthetic_0000000 |")
  assert lines[4].startswith("| val | synthetic_1000000 |") and lines[5].startswith("| test | synthetic_2000000 |")
  layers = synthetic.generate_layers(0, 2_000_000, synthetic.SyntheticSpec(height=64, width=96))
  assert lines[5].split(" | ")[2:] == [f"{int(layers['mask'].sum()):,}",
                                       *(f"{int(layers[k].sum()):,}" for k in synthetic.DISTRACTOR_KINDS[:-1]),
                                       f"{int(layers['joint'].sum()):,} |"]
  config.write_text(config.read_text().replace("return c", "c.data.name = 'cfd'\n  return c"))
  with pytest.raises(SystemExit, match="synthetic study"):
    study.synthetic_composition(str(config))


def test_a_finished_run_is_reused_only_under_the_name_of_what_it_ran(study, tmp_path):
  """`ran` meant eta 0.5 until the default became 0.1: such a run is refused as `ran` (naming the keys)
  and accepted as `ran_eta0.5`; a fixed method's run does not depend on the controller's step size."""
  def run_with(name, balance):
    workdir = _finished_run(tmp_path / name, test_f1=0.6, val_f1s=[0.6])
    (workdir / "config.json").write_text(json.dumps({"balance": balance}))
    return workdir

  old_default = {"method": "ran", "eta_weights": 0.5, "eta_sampling": 0.5, "interval": 20}
  run_ran = run_with("ran_s0", old_default)
  with pytest.raises(SystemExit, match=r"balance.eta_weights: the run has 0.5, 'ran' means 0.1 now"):
    study.check_balance_of(str(run_ran), "ran", *study._method_and_overrides("ran"))
  study.check_balance_of(str(run_ran), "ran_eta0.5", *study._method_and_overrides("ran_eta0.5"))
  with pytest.raises(SystemExit, match="balance.method"):
    study.check_balance_of(str(run_ran), "bce", *study._method_and_overrides("bce"))
  run_bce = run_with("bce_s0", {**old_default, "method": "bce"})
  study.check_balance_of(str(run_bce), "bce", *study._method_and_overrides("bce"))
  expected = study.expected_balance("ran", ["--config.balance.adaptive_step=true",
                                            "--config.balance.rate_bounds=(0.3,0.9)", "--config.seed=3"])
  assert expected["adaptive_step"] is True and expected["rate_bounds"] == [0.3, 0.9]

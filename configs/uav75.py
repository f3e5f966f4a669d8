r"""UAV75: real extreme imbalance (0.32% crack pixels), drone images of concrete structures, 512x512.

    python -m crackjax.main --config configs/uav75.py --workdir /tmp/crackjax_uav75 \
        --config.data.manual_dir=../shared/datasets/uav75

Benz et al., IVCNZ 2019; 75 images of bridges and other concrete structures (not road), cracks 1-5 px
wide; GPL-3.0, research use. The copy beside the repository is in the flat layout (images/ + masks/ +
splits.csv) that `crack_folder` reads; its splits are the official ones: train 50 / val 10 / test 15.
The source's 'planking pattern' class (formwork marks, a distractor) is background.

Patches: 128x128 windows every 64 px (49 per image; 43% hold crack pixels, which make up ~0.75% of
such a patch). Evaluation on the full 512x512 images. Budget 2000 steps: `bce`'s validation F1 stops
rising after ~1300 steps (docs/balance_study.md, "UAV75", has the curve). About 7.5 min on the 2-core CPU.

Result (`ran` at its defaults, eta 0.1, seed 0, validation split, `--config.eval.final_split=val`): P
0.619, R 0.720, F1 0.666, ODS 0.666; `bce` 0.635. Test split over seeds 0-4 (this command): F1 0.633 ±
0.009, `bce` 0.602 ± 0.012, `bce_dice` 0.622 ± 0.012 (docs/balance_study.md).
"""

from crackjax import config_base


def get_config():
  c = config_base.real_data("crack_folder", patch_size=128, patch_stride=64, total_steps=2000,
                            eval_every=100, warmup_steps=50, eval_batch_size=5)
  c.model.base_channels = 8
  c.log_every = 25
  return c

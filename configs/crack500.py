r"""CRACK500: RAN balanced learning of a U-Net on 640x360 crops of phone photos of pavement.

Your copy in the official layout (traincrop/ valcrop/ testcrop/ with <stem>.jpg + <stem>_mask.png):

    python -m crackjax.main --config configs/crack500.py --workdir /tmp/crackjax_crack500 \
        --config.data.manual_dir=/path/to/CRACK500

The re-laid-out copy beside the repository (only the official training pool, split by source photo into
train 1253 / val 201 / test 442; not comparable with published CRACK500 numbers):

    python -m crackjax.main --config configs/crack500.py --workdir /tmp/crackjax_crack500 \
        --config.data.manual_dir=../shared/datasets/crack500 --config.data.name=crack_folder

Patches: 128x128 windows every 64 px (45 per 640x360 crop); evaluation on the full crops padded to
multiples of 32 (640x384).

Result: the full 4000-step run is not yet measured (this config ran at 0.3-0.7 steps/s on the shared
2-core machine: 2-4 hours). Measured once with a small budget, the shared-copy command plus
`--config.total_steps=200 --config.eval_every=100 --config.checkpoint_every=100` (2026-11-28, jax 0.10.2, `ran`
at the then default eta 0.5, 18 min wall including validation and the test evaluation, load average 8-12):
test split of the shared copy
(442 crops, threshold 0.5, checkpoint 200 chosen by val F1) precision 0.610, recall 0.707, F1 0.655,
IoU 0.487; ODS F1 0.657.
"""

from crackjax import config_base


def get_config():
  c = config_base.real_data("crack500", patch_size=128, patch_stride=64, total_steps=4000,
                            eval_every=500)
  return c

r"""DeepCrack: RAN balanced learning of a U-Net on 537 images of 544x384 (300 train / 237 test).

Your copy of the official release (DeepCrack.zip unpacked: train_img/ train_lab/ test_img/ test_lab/):

    python -m crackjax.main --config configs/deepcrack.py --workdir /tmp/crackjax_deepcrack \
        --config.data.manual_dir=/path/to/DeepCrack

The same data in the images/ + masks/ + splits.csv layout:

    python -m crackjax.main --config configs/deepcrack.py --workdir /tmp/crackjax_deepcrack \
        --config.data.manual_dir=/path/to/deepcrack_folder --config.data.name=crack_folder

The official release has no val split: the final test evaluation uses the latest checkpoint.
Patches: 128x128 windows every 64 px; evaluation on the full images padded to 544x384 (multiples of 32).

Result: not yet measured (DeepCrack is not among the datasets on the development machine).
"""

from crackjax import config_base


def get_config():
  c = config_base.real_data("deepcrack", patch_size=128, patch_stride=64, total_steps=3000,
                            eval_every=500)
  return c

r"""The extreme-imbalance benchmark: synthetic survey images at HRRC scale (4000x3000, 0.1-0.2% crack).

    python -m crackjax.main --config configs/hrrc_synthetic.py --workdir /tmp/crackjax_hrrc_synthetic

No download: the procedural generator (distractors on: lane markings, shadows, oil stains, joints) draws
16 train, 4 val and 8 test images of 4000x3000 with 0.1-0.2% crack pixels (about 1:650, HRRC has 1:705),
prepared once under ~/tensorflow_datasets (106 s). Every split holds lane markings (train 3 images, val 1,
test 2): in the first version (8/2/4 images) no val image held one and a single marked test image decided
the table (docs/balance_study.md, "hrrc_synthetic"). Training goes through the tile-store path of
configs/hrrc.py: 256x256 patches on a 256 px grid cropped from raw 256 px tiles. Validation and test run
on the full images. Budget 1000 steps, chosen on the first version (`bce`'s val F1 flat after 1000 of
1500 steps); on this version `bce_dice`'s val F1 rises until ~1600 of 2000 steps (0.918 at 1000, 0.970 at
1900; docs/balance_study.md, "Second version"), so the budget is to move to 2000 with the next rows. A step is 8
patches of 256x256 (1.4-1.5 steps/s on the 2-core CPU alone, ~12 min for the 1000 steps); on the first
version, alone, validation took ~4.5 s per image and the final test ~15 s per image. Measured for this
command: 39 min, with another study run sharing the 2 cores throughout. The issue asked for 5-8 min;
halving the batch would get there but needs its own budget curve.

Result of this command (`ran` at its defaults, eta 0.1, seed 0, test split): P 0.871, R 0.929, F1 0.899;
val F1 0.914 (best at step 1000). Over seeds and against the fixed methods: docs/balance_study.md.
"""

from crackjax import config_base


def get_config():
  c = config_base.real_data("synthetic", patch_size=256, patch_stride=256, total_steps=1000,
                            eval_every=200, warmup_steps=50, eval_batch_size=1)
  c.data.synthetic.height = 3000
  c.data.synthetic.width = 4000
  # Sized so every split holds lane markings (the generator draws one in ~40% of images; seed 0 puts them
  # in train 2, 3, 13, val 2, test 3, 5): with 2 val images, neither marked, the selection was blind to
  # the distractor that decided the 4-image test split (docs/balance_study.md, "hrrc_synthetic").
  c.data.synthetic.num_train = 16
  c.data.synthetic.num_val = 4
  c.data.synthetic.num_test = 8
  c.data.synthetic.crack_fraction = (0.001, 0.002)
  c.data.crop_tile_size = 256
  c.data.crop_tile_codec = "raw"
  c.data.crop_tile_cache_mb = 256
  c.model.base_channels = 8
  c.log_every = 25
  return c

r"""The embedded default: RAN balanced learning of a U-Net on synthetic 1024x1024 road images.

    python -m crackjax.main --config configs/default.py --workdir /tmp/crackjax_default

No download: the data are drawn by crackjax's procedural generator and prepared as a tfds dataset
under ~/tensorflow_datasets. Measured on the 2-core CPU development machine: see the README
("What the default run reaches") for wall time and test-split precision/recall/F1/IoU.
"""

from crackjax import config_base


def get_config():
  c = config_base.base()
  c.total_steps = 400
  c.batch_size = 8
  c.eval_every = 100
  c.checkpoint_every = 100
  c.log_every = 20
  c.model.base_channels = 8
  c.model.depth = 4
  return c

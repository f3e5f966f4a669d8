r"""Smoke test: a tiny U-Net trained for a few steps on small synthetic images, end to end.

    python -m crackjax.main --config configs/smoke.py --workdir /tmp/crackjax_smoke

Used by the tests and checks. Runs in well under 60 s on a 2-core CPU (including preparing the data);
its F1 means nothing.
"""

from crackjax import config_base


def get_config():
  c = config_base.base()
  c.total_steps = 12
  c.batch_size = 4
  c.eval_every = 6
  c.checkpoint_every = 4
  c.log_every = 2
  c.optimizer.warmup_steps = 2
  c.model.base_channels = 4
  c.model.depth = 2
  c.data.patch_size = 64
  c.data.patch_stride = 32
  c.data.num_workers = 0
  c.data.synthetic.height = 256
  c.data.synthetic.width = 256
  c.data.synthetic.num_train = 4
  c.data.synthetic.num_val = 2
  c.data.synthetic.num_test = 2
  c.balance.interval = 3
  c.eval.batch_size = 2
  return c

"""The whole config checked before anything is written: `validate(config)`.

Every entry point calls it first (the trainer before it creates the workdir, evaluate and predict on the
run's saved config with the command line's overrides), so a bad value fails at once naming the key, and
the corrected rerun in the same workdir starts as if the first had never happened. It reads no data and
initialises no model: what only the data can tell (a real dataset's missing val split, a patch size its
images are too small for) is checked where the data is read, still before `config.json` is written
(crackjax/training/train.py).

Where a module already checks its own keys (the registries, the balance rule, the generator's spec, the
tile store's options, a model's options), `validate` calls that check instead of repeating it.
"""

from __future__ import annotations

import math
import os

from crackjax import errors
from crackjax import models
from crackjax.balance import methods
from crackjax.data import sources
from crackjax.training import parallel

FINAL_SPLITS = ("test", "val")


def validate(config, *, training: bool = True) -> None:
  """Raises one UserError listing every bad value of `config` (each naming its key); returns if none.

  Args:
    config: a resolved config (config_base.base() with a configs/*.py file's and the command line's
      overrides, or a run's saved config.json with overrides).
    training: also check what only training uses (steps, optimizer, batch size against the devices).
  """
  problems = []

  def check(fn, *args):
    try:
      fn(*args)
    except errors.UserError as e:
      problems.append(str(e))

  if training:
    check(_steps, config)
    check(_optimizer, config.optimizer)
    check(parallel.check_batch_size, config.batch_size)
  check(models.get_model, config.model)   # the name, then the family's own option checks (dtype, ...)
  check(_model, config.model)
  check(sources.check_config, config.data)
  check(_data, config.data)
  check(_balance, config.balance)
  check(_eval, config)
  if problems:
    raise errors.UserError(problems[0] if len(problems) == 1 else
                           f"{len(problems)} bad config values: " + " | ".join(problems))


def _at_least(value, minimum, key: str) -> None:
  if not value >= minimum:
    raise errors.UserError(f"config.{key}={value!r} must be >= {minimum}.")


def _steps(config) -> None:
  _at_least(config.total_steps, 1, "total_steps")
  for key in ("eval_every", "checkpoint_every", "log_every"):
    _at_least(config[key], 0, key)
  _at_least(config.keep_checkpoints, 1, "keep_checkpoints")
  _at_least(config.batch_size, 1, "batch_size")


def _optimizer(opt) -> None:
  if not (math.isfinite(opt.learning_rate) and opt.learning_rate > 0):
    raise errors.UserError(f"config.optimizer.learning_rate={opt.learning_rate!r} must be a positive number.")
  _at_least(opt.warmup_steps, 0, "optimizer.warmup_steps")
  if not 0.0 <= opt.final_lr_fraction <= 1.0:
    raise errors.UserError(f"config.optimizer.final_lr_fraction={opt.final_lr_fraction!r} must lie in [0, 1].")
  _at_least(opt.weight_decay, 0.0, "optimizer.weight_decay")
  if not opt.grad_clip_norm > 0:
    raise errors.UserError(f"config.optimizer.grad_clip_norm={opt.grad_clip_norm!r} must be > 0.")


def _model(model_config) -> None:
  path = model_config.get("pretrained_path", "")
  if path and not os.path.isfile(os.path.expanduser(path)):
    raise errors.MissingFileError(f"config.model.pretrained_path={path!r} does not exist (or is not a file).")


def _data(d) -> None:
  for key in ("patch_size", "patch_stride", "min_crack_pixels", "cache_images"):
    _at_least(d[key], 1, f"data.{key}")
  _at_least(d.num_workers, 0, "data.num_workers")
  for key in ("brightness", "contrast"):
    if not 0.0 <= d[key] < 1.0:
      raise errors.UserError(f"config.data.{key}={d[key]!r} must lie in [0, 1).")


def _balance(b) -> None:
  methods.balance_rule(b)                      # the method's name, interval, PRF form and bounds
  methods.initial_balance(b, natural_pos_rate=0.5, pixel_pos_fraction=0.01)   # weights and rates
  if not 0.0 <= b.rumc_pos_rate <= 1.0:
    raise errors.UserError(f"config.balance.rumc_pos_rate={b.rumc_pos_rate!r} must lie in [0, 1].")
  if b.focal_alpha > 1.0 or b.focal_gamma < 0:
    raise errors.UserError(f"config.balance.focal_alpha={b.focal_alpha!r} must be <= 1 and "
                           f"focal_gamma={b.focal_gamma!r} >= 0.")


def _eval(config) -> None:
  e = config.eval
  _at_least(e.batch_size, 1, "eval.batch_size")
  _at_least(e.pad_multiple, 1, "eval.pad_multiple")
  if not 0.0 <= e.threshold <= 1.0:
    raise errors.UserError(f"config.eval.threshold={e.threshold!r} must lie in [0, 1].")
  if e.final_split not in FINAL_SPLITS:
    raise errors.UserError(f"config.eval.final_split={e.final_split!r}: use 'test' (the default) or "
                           f"'val' (for tuning).")
  if e.final_split == "val" and config.data.name == "synthetic" and config.data.synthetic.num_val < 1:
    raise errors.UserError("config.eval.final_split='val' but config.data.synthetic.num_val=0: the "
                           "dataset has no val split.")


def check_splits(config, splits) -> None:
  """`config.eval.final_split` and `config.balance.measure` against the splits the prepared dataset has
  (after preparation)."""
  if config.eval.final_split not in splits:
    raise errors.UserError(
        f"config.eval.final_split={config.eval.final_split!r}: the dataset {config.data.name!r} has "
        f"splits {sorted(splits)}; use 'test' (the default) or 'val' (for tuning) where it exists.")
  if config.balance.measure == "val" and "val" not in splits:
    raise errors.UserError(
        f"config.balance.measure='val' moves the balance after each validation, but the dataset "
        f"{config.data.name!r} has no val split (it has {sorted(splits)}); choose another balance.measure.")


"""Every config key crackjax knows, with its default. `configs/*.py` start from `base()` and override.

Because the ConfigDict is locked, a `--config.key=value` override of a key not listed here fails at
start naming the key, and a value of the wrong type fails naming key and type.
"""

from __future__ import annotations

import json
import os

import ml_collections

# Keys that may differ when resuming a run in an existing workdir (they do not change the state).
# Not data.num_workers: Grain's saved iterator state has a different form with and without workers.
RESUMABLE_KEYS = ("total_steps", "eval_every", "checkpoint_every", "log_every", "keep_checkpoints",
                  "data.cache_images", "data.crop_tile_size", "data.crop_tile_codec",
                  "data.crop_tile_cache_mb",
                  "data.tfds_dir", "data.manual_dir",
                  "eval.batch_size", "eval.final_split", "progress_bar")


def base() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.total_steps = 1000
  c.batch_size = 8                 # global, over all devices and hosts
  c.eval_every = 250
  c.checkpoint_every = 250
  c.log_every = 25
  c.keep_checkpoints = 2           # latest N; the best by val/f1 is kept besides
  c.progress_bar = True

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.learning_rate = 1e-3
  c.optimizer.warmup_steps = 50
  c.optimizer.final_lr_fraction = 0.01
  c.optimizer.weight_decay = 1e-4
  c.optimizer.grad_clip_norm = 1.0

  c.model = ml_collections.ConfigDict()
  c.model.name = "unet"
  c.model.base_channels = 16
  c.model.depth = 4
  c.model.dtype = "float32"        # compute dtype; parameters stay float32
  # The model zoo (docs/models.md): "" / 0 / () mean the family's reference choice.
  c.model.backbone = ""            # e.g. fcn: vgg16|vgg16_bn; pspnet/fpn: resnet50|...; deeplabv3plus: +xception65
  c.model.width = 0                # unetpp/deepcrack base channels, hrnet W (18|48), fcn fc6/fc7 channels
  c.model.deep_supervision_weights = ()  # side-output loss weights (unetpp, deepcrack, pspnet aux head)
  c.model.pretrained_path = ""     # backbone weights (.npz/.pth, see crackjax/models/convert_weights.py)
  c.model.output_prior = 0.01      # initial crack probability of the final logit (RetinaNet prior init)

  c.data = ml_collections.ConfigDict()
  c.data.name = "synthetic"
  c.data.tfds_dir = "~/tensorflow_datasets"
  c.data.manual_dir = ""
  c.data.patch_size = 128
  c.data.patch_stride = 64
  c.data.min_crack_pixels = 1      # a patch is positive with >= this many crack pixels, negative with 0
  c.data.augment = True
  c.data.brightness = 0.1
  c.data.contrast = 0.1
  c.data.num_workers = 2           # Grain worker processes (0: load in the training process)
  c.data.cache_images = 32         # decoded full images kept per worker
  c.data.crop_tile_size = 0        # > 0: crop patches from a tiled copy (for large images; data/tile_store.py)
  c.data.crop_tile_codec = "png"   # tile store codec: "png" (smaller) or "raw" (faster to read)
  c.data.crop_tile_cache_mb = 256  # decoded tiles kept per worker when crop_tile_size > 0
  c.data.skip_bad_pairs = False    # real data: leave out (and list) bad image/mask pairs instead of failing
  c.data.synthetic = ml_collections.ConfigDict()
  c.data.synthetic.height = 1024
  c.data.synthetic.width = 1024
  c.data.synthetic.num_train = 32
  c.data.synthetic.num_val = 4
  c.data.synthetic.num_test = 8
  c.data.synthetic.seed = 0
  c.data.synthetic.distractors = True

  c.balance = ml_collections.ConfigDict()
  c.balance.method = "ran"
  c.balance.interval = 20
  c.balance.prf = "ratio"
  c.balance.warmup_steps = 0       # intervals closing at or before this step move nothing
  c.balance.eta_weights = 0.5
  c.balance.eta_sampling = 0.5
  c.balance.init_pos_weight = 1.0
  c.balance.init_neg_weight = 1.0
  c.balance.init_pos_rate = -1.0   # < 0: the natural share of positive patches
  c.balance.weight_bounds = (0.01, 100.0)
  c.balance.rate_bounds = (0.02, 0.98)
  c.balance.wbce_pos_weight = -1.0  # < 0: inverse crack-pixel frequency of the train split
  c.balance.focal_alpha = 0.25
  c.balance.focal_gamma = 2.0
  c.balance.rumc_pos_rate = 0.5

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 2            # full images per evaluation batch (rounded up to the device count)
  c.eval.threshold = 0.5
  c.eval.pad_multiple = 32
  c.eval.final_split = "test"      # where the best checkpoint is scored at the end; "val" while tuning
  return c


def real_data(name: str, *, patch_size: int, patch_stride: int, total_steps: int, eval_every: int,
              warmup_steps: int = 100, eval_batch_size: int = 4) -> ml_collections.ConfigDict:
  """base() set up for a real dataset: U-Net 16/4, batch 8, checkpoints at every evaluation.

  The shared starting point of configs/cfd.py, crack500.py, deepcrack.py and hrrc.py; each config sets
  the keys that differ after calling it.
  """
  c = base()
  c.data.name = name
  c.data.patch_size = patch_size
  c.data.patch_stride = patch_stride
  c.total_steps = total_steps
  c.batch_size = 8
  c.eval_every = c.checkpoint_every = eval_every
  c.log_every = 50
  c.optimizer.warmup_steps = warmup_steps
  c.model.base_channels = 16
  c.model.depth = 4
  c.eval.batch_size = eval_batch_size
  return c


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
  return out


def save_or_check(config: ml_collections.ConfigDict, workdir: str, write: bool = True) -> None:
  """Saves `workdir/config.json`, or refuses to resume when the saved run's config is incompatible.

  Every process checks; only the one with `write=True` (process 0) writes, atomically, so the others
  never read a half-written file."""
  path = os.path.join(workdir, "config.json")
  current = json.loads(config.to_json_best_effort())
  if os.path.exists(path):
    with open(path) as f:
      saved = json.load(f)
    a, b = _flatten(saved), _flatten(current)
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUMABLE_KEYS)
    if diff:
      lines = "\n".join(f"  {k}: saved {a.get(k)!r}, now {b.get(k)!r}" for k in diff)
      raise ValueError(
          f"{workdir} holds a run with a different config, so it cannot be resumed:\n{lines}\n"
          f"To start fresh, pass a new --workdir (or delete {workdir}); to continue that run, drop "
          f"these overrides.")
  os.makedirs(workdir, exist_ok=True)
  if not write:
    return
  with open(path + ".tmp", "w") as f:
    json.dump(current, f, indent=2, sort_keys=True)
  os.replace(path + ".tmp", path)


def load(workdir: str) -> ml_collections.ConfigDict:
  """The resolved config a run saved in `workdir` (for evaluate / predict)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} does not exist: is {workdir} a crackjax training workdir?")
  with open(path) as f:
    saved = json.load(f)
  config = base()
  config.unlock()
  config.update_from_flattened_dict({k: tuple(v) if isinstance(v, list) else v
                                     for k, v in _flatten(saved).items()})
  config.lock()
  return config

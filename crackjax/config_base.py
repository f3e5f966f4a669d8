"""Every config key crackjax knows, with its default. `configs/*.py` start from `base()` and override.

Because the ConfigDict is locked, a `--config.key=value` override of a key not listed here fails at
start naming the key, and a value of the wrong type fails naming key and type.
"""

from __future__ import annotations

import json
import os
from typing import Any

import ml_collections
from flax import traverse_util

from crackjax import errors
from crackjax import json_file

# Keys that may differ when resuming a run in an existing workdir (they do not change the state).
# Not data.num_workers: Grain's saved iterator state has a different form with and without workers.
RESUMABLE_KEYS = ("total_steps", "eval_every", "checkpoint_every", "log_every", "keep_checkpoints",
                  "data.cache_images", "data.crop_tile_size", "data.crop_tile_codec",
                  "data.crop_tile_cache_mb",
                  "data.tfds_dir", "data.manual_dir",
                  "eval.batch_size", "eval.final_split", "progress_bar")


def base() -> ml_collections.ConfigDict:
  """The defaults of every key (units and allowed values in the comments)."""
  c = ml_collections.ConfigDict()
  c.seed = 0                       # int; the init, the patch stream and the in-graph sampling derive from it
  c.total_steps = 1000             # optimizer steps
  c.batch_size = 8                 # patches per step, global over all devices and hosts (a multiple of them)
  c.eval_every = 250               # steps between validations on the val split's full images (0: only the last step)
  c.checkpoint_every = 250         # steps between checkpoints (0: only the last step); every validation also saves
  c.log_every = 25                 # steps between metrics.jsonl / TensorBoard rows
  c.keep_checkpoints = 2           # latest N checkpoints kept; the best by val/f1 is kept besides
  c.progress_bar = True            # tqdm bar on stderr (process 0)

  c.optimizer = ml_collections.ConfigDict()  # AdamW with linear warm-up and cosine decay
  c.optimizer.learning_rate = 1e-3           # peak learning rate
  c.optimizer.warmup_steps = 50              # steps of linear warm-up from 0
  c.optimizer.final_lr_fraction = 0.01       # final learning rate / peak
  c.optimizer.weight_decay = 1e-4            # AdamW decoupled weight decay
  c.optimizer.grad_clip_norm = 1.0           # clip the gradients to this global norm

  c.model = ml_collections.ConfigDict()
  c.model.name = "unet"            # unet | fcn | unetpp | pspnet | fpn | deeplabv3plus | hrnet | deepcrack
  c.model.base_channels = 16       # unet: channels of the first level (doubling per level)
  c.model.depth = 4                # unet: down-sampling levels (H and W must divide by 2**depth)
  c.model.dtype = "float32"        # compute dtype: float32 | bfloat16; parameters stay float32
  # The model zoo (docs/models.md): "" / 0 / () mean the family's reference choice.
  c.model.backbone = ""            # fcn: vgg16|vgg16_bn; pspnet/fpn: resnet50|...; deeplabv3plus: +xception65
  c.model.width = 0                # unetpp/deepcrack base channels, hrnet W (18|48), fcn fc6/fc7 channels
  c.model.deep_supervision_weights = ()  # side-output loss weights (unetpp, deepcrack, pspnet aux head)
  c.model.pretrained_path = ""     # backbone weights (.npz/.pth, see crackjax/models/convert_weights.py)
  c.model.output_prior = 0.01      # in (0, 1): initial crack probability of the final logit (prior init)

  c.data = ml_collections.ConfigDict()
  c.data.name = "synthetic"        # synthetic | crack_folder | cfd | deepcrack | crack500 | two_stage_crack | hrrc
  c.data.tfds_dir = "~/tensorflow_datasets"  # where datasets are prepared (once) as array_record files
  c.data.manual_dir = ""           # real datasets: the folder holding your copy (docs/data.md)
  c.data.patch_size = 128          # px, side of the square training patches
  c.data.patch_stride = 64         # px, spacing of the patch grid laid over every training image
  c.data.min_crack_pixels = 1      # a patch is positive with >= this many crack pixels, negative with 0
  c.data.augment = True            # random flips/rotations (dihedral group) and photometric jitter
  c.data.brightness = 0.1          # max brightness shift, fraction of 255
  c.data.contrast = 0.1            # max contrast change, fraction (1 +- contrast)
  c.data.num_workers = 2           # Grain worker processes (0: load in the training process)
  c.data.cache_images = 32         # decoded full images kept per worker
  c.data.crop_tile_size = 0        # px; > 0: crop patches from a tiled copy (large images; data/tile_store.py)
  c.data.crop_tile_codec = "png"   # tile store codec: png (smaller) | raw (faster to read)
  c.data.crop_tile_cache_mb = 256  # MB of decoded tiles kept per worker when crop_tile_size > 0
  c.data.skip_bad_pairs = False    # real data: leave out (and list) bad image/mask pairs instead of failing
  c.data.ambiguous_masks = "error"  # error | threshold: grey masks outside rule 3c of data/mask_encoding.py
  c.data.synthetic = ml_collections.ConfigDict()  # the procedural generator (crackjax/data/synthetic/)
  c.data.synthetic.height = 1024   # px
  c.data.synthetic.width = 1024    # px
  c.data.synthetic.num_train = 32  # images per split
  c.data.synthetic.num_val = 4
  c.data.synthetic.num_test = 8
  c.data.synthetic.seed = 0        # the dataset's seed (independent of the run's seed)
  c.data.synthetic.distractors = True  # lane markings, shadows, oil stains, joints
  c.data.synthetic.crack_fraction = (0.001, 0.005)  # (lo, hi): each image's crack-pixel share, drawn in it

  c.balance = ml_collections.ConfigDict()  # imbalance method and the PRF controller (docs/balanced_learning.md)
  # bce | wbce | focal | dice | bce_dice | rao | rumc | ran | ran_weights | ran_sampling
  c.balance.method = "ran"
  c.balance.interval = 20          # steps per PRF interval (P and R summed over it, then one update)
  c.balance.prf = "ratio"          # PRF form: ratio (P-R)/(P+R) | diff P-R | log_ratio log(P/R)
  c.balance.warmup_steps = 0       # steps; intervals closing at or before this step move nothing
  # Step sizes: 0.1 won on the val splits of CFD (+3.4 F1 points) and UAV75 (+0.6), lost on hrrc_synthetic's
  # (-1.2); 0.5, the earlier default, winds up at the start and failed CFD's test split
  # (docs/balance_study.md, "The default step size").
  c.balance.eta_weights = 0.1      # feature level: log w_pos += eta * PRF, log w_neg -= eta * PRF per interval
  c.balance.eta_sampling = 0.1     # sample level: logit(rate) += eta * PRF per interval
  c.balance.init_pos_weight = 1.0  # initial loss weight of crack pixels (> 0)
  c.balance.init_neg_weight = 1.0  # initial loss weight of background pixels (> 0)
  c.balance.init_pos_rate = -1.0   # in [0, 1]: initial positive-patch rate; < 0: the natural share
  c.balance.weight_bounds = (0.01, 100.0)  # (min, max) of each loss weight
  c.balance.rate_bounds = (0.02, 0.98)     # (min, max) of the positive-patch rate
  c.balance.wbce_pos_weight = -1.0  # wbce: crack-pixel weight; < 0: inverse crack-pixel frequency of train
  c.balance.focal_alpha = 0.25     # focal: alpha in [0, 1] (< 0: no alpha balancing)
  c.balance.focal_gamma = 2.0      # focal: gamma >= 0
  c.balance.rumc_pos_rate = 0.5    # rumc: fixed positive-patch rate in [0, 1]
  # The controller (crackjax/balance/prf.py; what each option did: docs/balanced_learning.md).
  # where P and R are judged: batch (as trained on) | natural (reweighted to the grid's share of positive
  # patches) | natural_eval (inference-mode model on the step's candidate pool, reweighted likewise) |
  # val (the pooled counts of each validation on full images; moves once per eval_every steps)
  c.balance.measure = "batch"
  c.balance.measure_every = 4      # natural_eval: steps between measurements (>= 1); each costs a forward pass of 2B patches
  c.balance.kp = 0.0               # >= 0: proportional gain relative to eta (0: pure integrator)
  c.balance.smoothing = 0.0        # in [0, 1): EMA factor of PRF across intervals (0: none)
  c.balance.dead_band = 0.0        # >= 0: |PRF| below this moves nothing
  c.balance.adaptive_step = False  # step x1.2 while PRF keeps its sign, x0.5 when it flips (within [0.05, 1])
  c.balance.normalize_weights = False  # weighted BCE as sum(w BCE) / sum(w): mean weight 1 over the batch

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 2            # full images per evaluation batch (rounded up to the device count)
  c.eval.threshold = 0.5           # in [0, 1]: a pixel is crack iff p >= threshold (on the k/100 grid)
  c.eval.pad_multiple = 32         # px; images are mirror-padded to a multiple of this for the network
  c.eval.final_split = "test"      # where the best checkpoint is scored at the end: test | val (while tuning)
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


def flatten(d: dict) -> dict:
  """`{"a": {"b": 1}}` -> `{"a.b": 1}` (tuples as lists, as JSON has them)."""
  return {k: list(v) if isinstance(v, tuple) else v
          for k, v in traverse_util.flatten_dict(d, sep=".").items()}


def check_resumable(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Refuses (UserError) when `workdir/config.json` holds a run whose config differs from `config` in a
  key that changes the state (any key not in RESUMABLE_KEYS). Reads only; a workdir without
  config.json passes."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  current = json.loads(config.to_json_best_effort())
  with open(path) as f:
    saved = json.load(f)
  a, b = flatten(saved), flatten(current)
  defaults = flatten(json.loads(base().to_json_best_effort()))
  # A key added to crackjax after the run was saved is compatible at its default value.
  diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUMABLE_KEYS
                and not (k not in a and k in defaults and b.get(k) == defaults[k]))
  if diff:
    changes = "; ".join(f"{k}: saved {a.get(k)!r}, now {b.get(k)!r}" for k in diff)
    raise errors.UserError(
        f"{workdir} holds a run with a different config, so it cannot be resumed ({changes}). To "
        f"start fresh, pass a new --workdir (or delete {workdir}); to continue that run, drop these "
        f"overrides.")


def save(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Writes `workdir/config.json` atomically (process 0 only; call `check_resumable` first)."""
  json_file.write(os.path.join(workdir, "config.json"), json.loads(config.to_json_best_effort()))


def load(workdir: str) -> ml_collections.ConfigDict:
  """The resolved config a run saved in `workdir` (for evaluate / predict)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    what = "is a file, not a folder" if os.path.isfile(workdir) else (
        "has no config.json" if os.path.isdir(workdir) else "does not exist")
    raise errors.MissingFileError(f"--workdir {workdir} {what} ({path} is missing): is it a crackjax "
                                  f"training workdir? Train first with `python -m crackjax.main --config "
                                  f"configs/<name>.py --workdir {workdir}`.")
  with open(path) as f:
    saved = json.load(f)
  config = base()
  config.unlock()
  config.update_from_flattened_dict({k: tuple(v) if isinstance(v, list) else v
                                     for k, v in flatten(saved).items()})
  config.lock()
  return config


def diff_from_base(config) -> list[tuple[str, Any, Any]]:
  """`(key, default, value)` of every key where `config` differs from `base()` (flat keys, sorted):
  what a run changed, for its log and report (the full config is in config.json)."""
  a = flatten(json.loads(base().to_json_best_effort()))
  b = flatten(json.loads(config.to_json_best_effort()))
  return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]

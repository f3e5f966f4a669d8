r"""Backbone weights from a PyTorch state dict (torchvision / timm naming) into the zoo's Flax trees.

Convert once, then point `config.model.pretrained_path` at the result:

    python -m crackjax.models.convert_weights --model pspnet --backbone resnet50 \
        --input resnet50_torchvision.npz --output resnet50_crackjax.npz
    python -m crackjax.main --config configs/smoke.py --workdir /tmp/run \
        --config.model.name=pspnet --config.model.pretrained_path=resnet50_crackjax.npz

`--input` is a state dict saved as `.npz` (no torch needed) or a `.pth`/`.pt` file (needs torch,
which is not a crackjax dependency). To make the `.npz` wherever torch and the weights are at hand:

    python -c "import numpy as np, torchvision; sd = torchvision.models.resnet50(
        weights='IMAGENET1K_V1').state_dict(); np.savez('resnet50_torchvision.npz',
        **{k: v.numpy() for k, v in sd.items()})"

`model.pretrained_path` also accepts such a raw state dict directly (converted while loading).
Nothing is downloaded, ever. Sources by backbone (the zoo's module names mirror their keys):

  resnet18/34/50/101   torchvision `resnet*` (fc ignored)          pspnet, fpn, deeplabv3plus
  vgg16, vgg16_bn      torchvision `vgg16(_bn)`; `classifier.0/3`  fcn (fc6/fc7 need model.width 0)
                       become fc6 (7x7 conv) / fc7 (1x1 conv)
  xception65/41        timm `xception65/41` (tf_in1k), head ignored deeplabv3plus
  hrnetv2(_small_v2)   timm `hrnet_w18/w48/w18_small_v2` or the    hrnet (model.width = W)
                       HRNet authors' ImageNet checkpoints (classification head ignored)

Matching: a Flax leaf `a/b_0/c/kernel` of the model's `backbone` module matches the PyTorch module
whose dotted path with "." -> "_" is `a_b_0_c`; conv `weight [O, I, kh, kw]` -> `kernel [kh, kw, I,
O]`, BatchNorm `weight/bias/running_mean/running_var` -> `scale/bias` (params) and `mean/var`
(batch_stats). Every backbone leaf must be found with its exact shape, and every state-dict entry
must be used or belong to a known classifier head; anything else is an error naming the keys.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from crackjax import errors

# State-dict prefixes that belong to classification heads, not to any backbone here.
IGNORED_PREFIXES = ("fc.", "head.", "classifier.", "incre_modules.", "downsamp_modules.", "final_layer.",
                    "last_layer.", "aux.", "global_pool.")
# Flax module key -> (PyTorch module path, reshape of the Linear weight into a conv kernel).
_ALIASES = {"fc6": ("classifier.0", (7, 7)), "fc7": ("classifier.3", (1, 1))}


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """A `.npz` or `.pth`/`.pt` state dict as {key: numpy array} (`module.` prefixes stripped)."""
  if not os.path.exists(path):
    raise errors.MissingFileError(f"{path} does not exist (config.model.pretrained_path / --input).")
  if path.endswith(".npz"):
    with np.load(path, allow_pickle=False) as f:
      sd = {k: f[k] for k in f.files}
  elif path.endswith((".pth", ".pt")):
    try:
      import torch  # noqa: PLC0415  (optional: only to read .pth files)
    except ImportError as e:
      raise ImportError(
          f"Reading {path} needs torch, which crackjax does not depend on. Either `pip install torch` "
          f"or save the state dict as .npz where torch is installed: np.savez('x.npz', "
          f"**{{k: v.numpy() for k, v in state_dict.items()}})") from e
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state"):
      if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
        obj = obj[key]
    sd = {k: v.detach().cpu().float().numpy() if v.is_floating_point() else v.cpu().numpy()
          for k, v in obj.items() if hasattr(v, "detach")}
  else:
    raise errors.UserError(f"{path}: expected a .npz or .pth/.pt state dict.")
  return {re.sub(r"^module\.", "", k): v for k, v in sd.items()}


def is_converted(arrays: dict) -> bool:
  return bool(arrays) and all(k.startswith(("params/", "batch_stats/")) for k in arrays)


def convert(state_dict: dict[str, np.ndarray], params_shapes, stats_shapes) -> tuple[dict, dict]:
  """PyTorch state dict -> (backbone params, backbone batch_stats) shaped like the given trees.

  Args:
    state_dict: {dotted key: array} as `read_state_dict` returns.
    params_shapes, stats_shapes: the backbone's `params` / `batch_stats` subtrees (arrays or
      `ShapeDtypeStruct`s), which say what must be filled.
  """
  modules: dict[str, tuple[str, dict]] = {}
  for key, value in state_dict.items():
    module, _, leaf = key.rpartition(".")
    flat_key = module.replace(".", "_")
    if flat_key in modules and modules[flat_key][0] != module:
      raise ValueError(f"state dict modules {modules[flat_key][0]!r} and {module!r} map to the same "
                       f"Flax name {flat_key!r}.")
    modules.setdefault(flat_key, (module, {}))[1][leaf] = value
  used: set[str] = set()
  problems: list[str] = []
  missing: dict[str, list[str]] = {}

  def fetch(module_path: tuple, leaf: str, shape) -> np.ndarray | None:
    module_key = "_".join(module_path)
    alias = _ALIASES.get(module_key)
    src = alias[0].replace(".", "_") if alias else module_key
    if src not in modules:   # name it as PyTorch would: "_<digit>" inside a Flax name is a "."
      torch_name = alias[0] if alias else ".".join(re.sub(r"_(?=\d)", ".", c) for c in module_path)
      missing.setdefault(torch_name, []).append(f"{leaf} {tuple(shape)}")
      return None
    torch_module, leaves = modules[src]
    torch_leaf = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean",
                  "var": "running_var"}[leaf]
    if torch_leaf not in leaves:
      problems.append(f"missing {torch_module}.{torch_leaf} for Flax {module_key}/{leaf}")
      return None
    value = np.asarray(leaves[torch_leaf], np.float32)
    used.add(f"{torch_module}.{torch_leaf}")
    if leaf == "kernel":
      if alias:                               # Linear [O, C*kh*kw] -> [O, C, kh, kw]
        value = value.reshape(value.shape[0], -1, *alias[1]) if value.ndim == 2 else value
      if value.ndim != 4:
        problems.append(f"{torch_module}.{torch_leaf} has shape {value.shape}, not a conv weight")
        return None
      value = value.transpose(2, 3, 1, 0)
    if value.shape != tuple(shape):
      problems.append(f"{torch_module}.{torch_leaf}: shape {value.shape} (after conversion) but Flax "
                    f"{module_key}/{leaf} needs {tuple(shape)}")
      return None
    return value

  out = []
  for tree in (params_shapes, stats_shapes):
    flat = {}
    for path, leaf in traverse_util.flatten_dict(tree).items():
      value = fetch(path[:-1], path[-1], leaf.shape)
      if value is not None:
        flat[path] = value
    out.append(traverse_util.unflatten_dict(flat))
  problems[:0] = [f"missing {m}.* (Flax {', '.join(leaves)})" for m, leaves in missing.items()]
  unused = sorted(k for k in state_dict if k not in used and not k.endswith("num_batches_tracked")
                  and not k.startswith(IGNORED_PREFIXES))
  if unused:
    problems.append(f"{len(unused)} state-dict entries match nothing in the backbone (wrong backbone or "
                  f"depth/width?): {unused[:8]}{' ...' if len(unused) > 8 else ''}")
  if problems:
    raise errors.UserError("The state dict does not fit the model's backbone:\n  " + "\n  ".join(problems[:20])
                           + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""))
  return out[0], out[1]


def to_npz_dict(params: dict, batch_stats: dict) -> dict[str, np.ndarray]:
  out = {"params/" + "/".join(p): np.asarray(v) for p, v in traverse_util.flatten_dict(params).items()}
  out.update({"batch_stats/" + "/".join(p): np.asarray(v)
              for p, v in traverse_util.flatten_dict(batch_stats).items()})
  return out


def from_npz_dict(arrays: dict, params_shapes, stats_shapes) -> tuple[dict, dict]:
  """A converted file's arrays -> (params, batch_stats), checked leaf by leaf against the shapes."""
  out, problems, seen = [], [], set()
  for col, tree in (("params", params_shapes), ("batch_stats", stats_shapes)):
    flat = {}
    for path, leaf in traverse_util.flatten_dict(tree).items():
      key = col + "/" + "/".join(path)
      seen.add(key)
      if key not in arrays:
        problems.append(f"missing {key} {tuple(leaf.shape)}")
      elif arrays[key].shape != tuple(leaf.shape):
        problems.append(f"{key}: shape {arrays[key].shape}, the model needs {tuple(leaf.shape)}")
      else:
        flat[path] = np.asarray(arrays[key], np.float32)
    out.append(traverse_util.unflatten_dict(flat))
  extra = sorted(set(arrays) - seen)
  if extra:
    problems.append(f"{len(extra)} arrays the backbone lacks: {extra[:8]}")
  if problems:
    raise errors.UserError("The converted weights do not fit the model's backbone (converted for another "
                           "backbone or width?):\n  " + "\n  ".join(problems[:20]))
  return out[0], out[1]


def backbone_shapes(model, patch_size: int = 64) -> tuple[dict, dict]:
  """The `backbone` subtrees of `model`'s params and batch_stats, as shapes (nothing is computed)."""
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                                jnp.zeros((1, patch_size, patch_size, 3)), train=False))
  if "backbone" not in variables["params"]:
    raise errors.UserError(f"{type(model).__name__} has no pretrainable backbone.")
  return variables["params"]["backbone"], variables.get("batch_stats", {}).get("backbone", {})


def load_backbone(path: str, params_shapes, stats_shapes) -> tuple[dict, dict]:
  """Reads a converted `.npz` or a raw PyTorch state dict and returns (params, batch_stats)."""
  arrays = read_state_dict(path)
  if is_converted(arrays):
    return from_npz_dict(arrays, params_shapes, stats_shapes)
  return convert(arrays, params_shapes, stats_shapes)


def load_pretrained(state, model_config, sharding):
  """`state` with its `backbone` params and batch_stats read from `model_config.pretrained_path`.

  `state` is a `crackjax.training.state.TrainState` (anything with `params`, `batch_stats` and `replace`); the
  new leaves are placed with `sharding` (replicated). The optimizer state needs no change: AdamW's
  moments start at zero whatever the parameters are. Returns `state` unchanged when the path is "".
  """
  path = os.path.expanduser(model_config.get("pretrained_path", "") or "")
  if not path:
    return state
  if "backbone" not in state.params:
    raise errors.UserError(f"config.model.pretrained_path={path!r} is set but model.name="
                           f"{model_config.name!r} has no pretrainable backbone (those with one: pspnet, "
                           f"fpn, deeplabv3plus, fcn, hrnet); leave it ''.")
  shapes = lambda t: jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), t)
  params, stats = load_backbone(path, shapes(state.params["backbone"]),
                                shapes(state.batch_stats.get("backbone", {})))
  put = lambda t: jax.device_put(t, sharding)
  new_params = {**state.params, "backbone": put(params)}
  new_stats = {**state.batch_stats, "backbone": put(stats)} if stats else state.batch_stats
  return state.replace(params=new_params, batch_stats=new_stats)


def main(argv=None) -> None:
  import ml_collections  # noqa: PLC0415

  from crackjax import config_base  # noqa: PLC0415
  from crackjax import models  # noqa: PLC0415

  parser = argparse.ArgumentParser(
      prog="python -m crackjax.models.convert_weights",
      description="Convert a PyTorch backbone state dict into crackjax's Flax names (an .npz for "
                  "config.model.pretrained_path).")
  parser.add_argument("--model", required=True,
                      help="config.model.name (pspnet, fpn, deeplabv3plus, fcn, hrnet)")
  parser.add_argument("--backbone", default="", help="config.model.backbone ('' = the model's reference)")
  parser.add_argument("--width", type=int, default=0, help="config.model.width (hrnet: W; fcn: fc6/fc7)")
  parser.add_argument("--input", required=True, help="state dict: .npz, or .pth/.pt (needs torch)")
  parser.add_argument("--output", required=True, help="converted weights (.npz)")
  args = parser.parse_args(argv)
  cfg = config_base.base().model
  cfg.unlock()
  cfg.update(dict(name=args.model, backbone=args.backbone, width=args.width))
  model = models.get_model(ml_collections.ConfigDict(cfg.to_dict()))
  params, stats = convert(read_state_dict(args.input), *backbone_shapes(model))
  arrays = to_npz_dict(params, stats)
  out = args.output if args.output.endswith(".npz") else args.output + ".npz"
  np.savez(out, **arrays)
  n = sum(int(np.prod(v.shape)) for k, v in arrays.items() if k.startswith("params/"))
  print(f"{out}: {len(arrays)} arrays, {n:,} backbone parameters for model.name={args.model!r} "
        f"backbone={args.backbone or 'default'!r}")


if __name__ == "__main__":
  main(sys.argv[1:])

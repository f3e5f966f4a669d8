"""What torchvision's resnet18 computes, recorded once, so the weight converter is checked against it
in every test run without torch installed (torch's PyPI wheels pull several GB of CUDA libraries).

The weights and the input are drawn with numpy from fixed seeds (`state_dict()`, `inputs()`), so the
test rebuilds them exactly; only torchvision's output, `[2, 2, 2, 512] float32` (NHWC) of `layer4`,
is stored, in tests/data/torchvision_resnet18_layer4.npz (16 KB).

To re-record (needs torch and torchvision; no crackjax): `python tests/torchvision_reference.py`.
It imports torchvision's own `models/resnet.py` (pure torch.nn) without running `torchvision/__init__`,
whose compiled ops (nms, ...) must match the torch build exactly and are not used by a ResNet.
"""

from __future__ import annotations

import os

import numpy as np

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "torchvision_resnet18_layer4.npz")
INPUT_SHAPE = (2, 3, 64, 64)   # NCHW, as torch takes it


def state_dict(seed: int = 0) -> dict[str, np.ndarray]:
  """He-scaled random arrays under torchvision resnet18's state-dict keys and (PyTorch) shapes."""
  rng = np.random.default_rng(seed)
  sd = {}

  def conv(name, o, i, k):
    sd[f"{name}.weight"] = (rng.standard_normal((o, i, k, k)) * np.sqrt(2.0 / (i * k * k))).astype(np.float32)

  def bn(name, c):
    for leaf, v in (("weight", rng.uniform(0.5, 1.5, c)), ("bias", rng.normal(scale=0.1, size=c)),
                    ("running_mean", rng.normal(scale=0.1, size=c)), ("running_var", rng.uniform(0.5, 1.5, c))):
      sd[f"{name}.{leaf}"] = v.astype(np.float32)
    sd[f"{name}.num_batches_tracked"] = np.array(7, np.int64)

  conv("conv1", 64, 3, 7)
  bn("bn1", 64)
  inplanes = 64
  for stage, planes in enumerate((64, 128, 256, 512), start=1):
    for b in range(2):
      p = f"layer{stage}.{b}"
      conv(f"{p}.conv1", planes, inplanes if b == 0 else planes, 3)
      bn(f"{p}.bn1", planes)
      conv(f"{p}.conv2", planes, planes, 3)
      bn(f"{p}.bn2", planes)
      if b == 0 and stage > 1:
        conv(f"{p}.downsample.0", planes, inplanes, 1)
        bn(f"{p}.downsample.1", planes)
    inplanes = planes
  sd["fc.weight"] = (rng.standard_normal((1000, 512)) * 0.01).astype(np.float32)
  sd["fc.bias"] = np.zeros(1000, np.float32)
  return sd


def inputs(seed: int = 1) -> np.ndarray:
  """`[2, 3, 64, 64] float32` in [0, 1] (NCHW)."""
  return np.random.default_rng(seed).random(INPUT_SHAPE, dtype=np.float32)


def _torchvision_resnet():
  import importlib.util  # noqa: PLC0415
  import sys  # noqa: PLC0415
  import types  # noqa: PLC0415
  root = os.path.dirname(importlib.util.find_spec("torchvision").origin)
  for name, path in (("torchvision", root), ("torchvision.models", os.path.join(root, "models")),
                     ("torchvision.transforms", os.path.join(root, "transforms"))):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
  presets = types.ModuleType("torchvision.transforms._presets")
  presets.ImageClassification = object   # only named by the pretrained-weights enums
  sys.modules["torchvision.transforms._presets"] = presets
  from torchvision.models import resnet  # noqa: PLC0415
  return resnet


def record() -> None:
  import torch  # noqa: PLC0415
  net = _torchvision_resnet().resnet18().eval()
  net.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict().items()})
  x = torch.from_numpy(inputs())
  with torch.no_grad():
    y = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))
  np.savez_compressed(PATH, layer4_nhwc=y.permute(0, 2, 3, 1).numpy(),
                      torch_version=np.array(torch.__version__))
  print(f"wrote {PATH}: layer4 {tuple(y.shape)} NCHW, torch {torch.__version__}, |y| max {float(y.abs().max()):.3f}")


if __name__ == "__main__":
  record()

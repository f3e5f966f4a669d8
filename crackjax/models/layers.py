"""Building blocks shared by the model zoo: conv/BN/ReLU units, separable convs, resizing, pooling.

Conventions (every model in `crackjax/models/` follows them):
  - NHWC activations; `dtype` is the compute dtype (`config.model.dtype`), parameters stay float32.
  - Convolutions pad symmetrically like PyTorch (`padding = dilation * (kernel - 1) // 2` on both
    sides), not TF-"SAME", so that stride-2 layers see the same pixels as the torchvision/timm
    networks whose ImageNet weights `crackjax/models/convert_weights.py` converts.
  - BatchNorm with PyTorch's defaults (momentum 0.1 <=> flax momentum 0.9, epsilon 1e-5 unless the
    reference network says otherwise). Its statistics are global under the data-parallel step: the
    step is a global-view `jax.jit` over a batch sharded on the `data` axis.
  - Module names mirror the reference PyTorch state-dict keys with "." replaced by "_" (e.g.
    `layer1_0/downsample_0` for torchvision's `layer1.0.downsample.0`), which is what lets the weight
    converter match parameters by name.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from crackjax.models import output_bias

# He-normal over fan-out, as torchvision initialises ResNet/VGG convolutions.
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")

IMAGENET_MEAN = (0.485, 0.456, 0.406)   # torchvision's ImageNet normalisation
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(x, mean: Sequence[float], std: Sequence[float], dtype) -> jax.Array:
  """`[B, H, W, 3] float32` in [0, 1] -> `(x - mean) / std` in `dtype`."""
  mean = jnp.asarray(mean, jnp.float32)
  std = jnp.asarray(std, jnp.float32)
  return ((x - mean) / std).astype(dtype)


def torch_padding(kernel: int, dilation: int = 1) -> list[tuple[int, int]]:
  p = dilation * (kernel - 1) // 2
  return [(p, p), (p, p)]


def conv(features: int, kernel: int = 3, stride: int = 1, dilation: int = 1, *, groups: int = 1,
         use_bias: bool = False, dtype=jnp.float32, name: str | None = None, init=conv_init) -> nn.Conv:
  """A 2-D convolution with PyTorch-style symmetric padding."""
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=torch_padding(kernel, dilation), kernel_dilation=(dilation, dilation),
                 feature_group_count=groups, use_bias=use_bias, dtype=dtype, kernel_init=init, name=name)


class Im2ColConv(nn.Module):
  """A stride-1 kxk convolution computed as image patches times a matrix (same `kernel [k, k, C, O]`
  and `bias` parameters as `nn.Conv`, same result).

  For FCN's fc6 (7x7, 512 -> 4096 channels on maps of a few pixels) XLA:CPU's convolution is ~25x
  slower than this GEMM (measured: 25.1 s vs 0.94 s forward for a [2, 4, 4, 512] input).
  """
  features: int
  kernel: int
  dtype: jnp.dtype = jnp.float32
  kernel_init: object = conv_init

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    k = self.param("kernel", self.kernel_init, (self.kernel, self.kernel, c, self.features), jnp.float32)
    b = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
    x, k, b = x.astype(self.dtype), k.astype(self.dtype), b.astype(self.dtype)
    patches = jax.lax.conv_general_dilated_patches(   # [B, H, W, C * k * k], channel-major
        x, (self.kernel, self.kernel), (1, 1), torch_padding(self.kernel),
        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    matrix = k.transpose(2, 0, 1, 3).reshape(c * self.kernel * self.kernel, self.features)
    return jnp.einsum("bhwf,fo->bhwo", patches, matrix) + b


def cpu_formulations() -> bool:
  """Whether `ConvTranspose` uses its CPU formulation (on CPU backends only).

  XLA:CPU runs a stride-2 transposed convolution (a convolution over a zero-dilated input) and its weight
  gradient several times slower than the equivalent matrix product; GPU and TPU compilers handle it
  natively, so they keep the standard op (docs/performance.md).
  """
  return jax.default_backend() == "cpu"


class ConvTranspose(nn.Module):
  """A 2x up-sampling transposed convolution (2x2 kernel, stride 2): `[B, H, W, C]` -> `[B, 2H, 2W, O]`.

  Drop-in for `nn.ConvTranspose(features, (2, 2), strides=(2, 2))` (same `kernel [2, 2, C, O]` and `bias`
  parameters, same result within float rounding). The four output pixels of each input pixel do not
  overlap, so on CPU it is one `[B, H, W, C] x [C, 4O]` matrix product and a depth-to-space reshuffle; XLA:CPU
  otherwise runs it as a convolution over a zero-dilated input (4x the work) with a slow weight gradient.
  Elsewhere it is `lax.conv_transpose`, as in `nn.ConvTranspose`.
  """
  features: int
  use_bias: bool = True
  dtype: jnp.dtype = jnp.float32
  kernel_init: object = nn.initializers.lecun_normal()
  bias_init: object = nn.initializers.zeros

  @nn.compact
  def __call__(self, x):
    b, h, w, c = x.shape
    kernel = self.param("kernel", self.kernel_init, (2, 2, c, self.features), jnp.float32)
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    if cpu_formulations():
      # nn.ConvTranspose (transpose_kernel=False) applies the spatially flipped kernel.
      # Reshapes leave the batch axis alone, so a sharded batch keeps its sharding.
      matrix = kernel[::-1, ::-1].transpose(2, 0, 1, 3).reshape(c, 4 * self.features)
      y = jnp.einsum("bhwc,cn->bhwn", x, matrix).reshape(b, h, w, 2, 2, self.features)
      y = y.transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, self.features)
    else:
      y = jax.lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if self.use_bias:
      y = y + self.param("bias", self.bias_init, (self.features,), jnp.float32).astype(self.dtype)
    return y


def batch_norm(train: bool, dtype=jnp.float32, name: str | None = None, epsilon: float = 1e-5,
               scale_init=nn.initializers.ones) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=epsilon, dtype=dtype,
                      scale_init=scale_init, name=name)


class ConvBN(nn.Module):
  """conv (no bias) -> BatchNorm -> optional ReLU; submodules `conv` and `bn`."""
  features: int
  kernel: int = 3
  stride: int = 1
  dilation: int = 1
  relu: bool = True
  epsilon: float = 1e-5
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = conv(self.features, self.kernel, self.stride, self.dilation, dtype=self.dtype, name="conv")(x)
    x = batch_norm(train, self.dtype, name="bn", epsilon=self.epsilon)(x)
    return nn.relu(x) if self.relu else x


class SeparableConvBN(nn.Module):
  """Depthwise kxk conv -> BN -> ReLU -> pointwise 1x1 conv -> BN -> ReLU.

  The DeepLabv3+ form of an (atrous) separable convolution with batch norm after each half
  (Chen et al., ECCV 2018, Sec. 3.2 and `split_separable_conv2d` in the TF DeepLab code).
  """
  features: int
  kernel: int = 3
  dilation: int = 1
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    c = x.shape[-1]
    x = conv(c, self.kernel, 1, self.dilation, groups=c, dtype=self.dtype, name="depthwise")(x)
    x = nn.relu(batch_norm(train, self.dtype, name="depthwise_bn")(x))
    x = conv(self.features, 1, dtype=self.dtype, name="pointwise")(x)
    return nn.relu(batch_norm(train, self.dtype, name="pointwise_bn")(x))


def _interp_matrix(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
  """`[n_out, n_in]` weights of PyTorch's 1-D linear interpolation (`F.interpolate`, bilinear)."""
  m = np.zeros((n_out, n_in), np.float32)
  for o in range(n_out):
    if align_corners:
      src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
      src = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
    i0 = min(int(np.floor(src)), n_in - 1)
    i1 = min(i0 + 1, n_in - 1)
    frac = src - i0
    m[o, i0] += 1.0 - frac
    m[o, i1] += frac
  return m


def resize(x, size: tuple[int, int], align_corners: bool = False) -> jax.Array:
  """Bilinear resize of `[B, h, w, C]` to `[B, *size, C]` with PyTorch's `F.interpolate` semantics.

  `align_corners=False` is the half-pixel convention; `align_corners=True` maps the corner pixels
  onto each other, as several reference implementations (DeepCrack, PSPNet) do. Written as two
  products with constant interpolation matrices: exact, and cheap for XLA to compile.
  """
  h, w = x.shape[1:3]
  if (h, w) == tuple(size):
    return x
  mh = jnp.asarray(_interp_matrix(h, size[0], align_corners), x.dtype)
  mw = jnp.asarray(_interp_matrix(w, size[1], align_corners), x.dtype)
  return jnp.einsum("oh,bhwc,pw->bopc", mh, x, mw)


def upsample_nearest(x, factor: int) -> jax.Array:
  """`[B, h, w, C]` -> `[B, h * factor, w * factor, C]` by repetition (nearest neighbour)."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def _adaptive_pool_matrix(n_in: int, n_out: int) -> np.ndarray:
  """`[n_out, n_in]` averaging weights of PyTorch's AdaptiveAvgPool along one axis."""
  m = np.zeros((n_out, n_in), np.float32)
  for i in range(n_out):
    start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
    m[i, start:end] = 1.0 / (end - start)
  return m


def adaptive_avg_pool(x, bins: int) -> jax.Array:
  """`[B, h, w, C]` -> `[B, bins, bins, C]` with PyTorch's `AdaptiveAvgPool2d` windows (any h, w)."""
  ph = jnp.asarray(_adaptive_pool_matrix(x.shape[1], bins), x.dtype)
  pw = jnp.asarray(_adaptive_pool_matrix(x.shape[2], bins), x.dtype)
  return jnp.einsum("ih,bhwc,jw->bijc", ph, x, pw)


def max_pool_3x3_s2(x) -> jax.Array:
  """torchvision's stem max-pool: 3x3, stride 2, padding 1."""
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))


def logit_head(prior: float, dtype, name: str, kernel_init=nn.initializers.lecun_normal()) -> nn.Conv:
  """The final 1x1 conv to one crack logit, bias initialised to logit(`prior`) (`model.output_prior`)."""
  return nn.Conv(1, (1, 1), dtype=dtype, kernel_init=kernel_init, bias_init=output_bias(prior), name=name)


def check_divisible(x, multiple: int, model: str) -> None:
  if x.shape[1] % multiple or x.shape[2] % multiple:
    raise ValueError(f"{model} needs H and W divisible by {multiple}, got input shape {x.shape}; "
                     f"pad or crop the images (config.data.patch_size, config.eval.pad_multiple).")


def side_outputs(logits, side_logits: Sequence[jax.Array], side_weights: Sequence[float]) -> dict:
  """The train-mode output of a deeply supervised model (see `crackjax/models/__init__.py`)."""
  if len(side_logits) != len(side_weights):
    raise ValueError(f"{len(side_logits)} side outputs but {len(side_weights)} weights.")
  return {"logits": logits, "side_logits": tuple(s.astype(jnp.float32) for s in side_logits),
          "side_weights": tuple(float(w) for w in side_weights)}


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

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from crackjax import errors
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
  """Whether `ConvTranspose`, `BatchNorm` and `max_pool_2x2` use their CPU formulations (CPU backends only).

  XLA:CPU runs a stride-2 transposed convolution (a convolution over a zero-dilated input) and its weight
  gradient several times slower than the equivalent matrix product, splits BatchNorm's reductions into
  slow partial sums and expands max-pool gradients into scatters; GPU and TPU compilers handle these
  natively, so they keep the standard ops (docs/performance.md).
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


def _rows_per_sum(pixels_per_image: int, pixels: int) -> int:
  """Pixels summed per matrix row by `channel_sums`: the largest power of two <= sqrt(`pixels`) that divides
  `pixels_per_image` (rows never straddle two images, so a batch sharded over devices stays sharded)."""
  k = 1
  while k * k * 4 <= pixels and pixels_per_image % (2 * k) == 0:
    k *= 2
  return k


def channel_sums(a: jax.Array) -> jax.Array:
  """`[B, ..., C] float32` -> `[C] float32` sums over all but the last axis, as a matrix-vector product.

  The pixels are laid out as `[M, k * C]` rows (k <= sqrt(B * ...), `_rows_per_sum`), summed by
  `ones[M] @ rows` and then over the k groups: two stages of ~sqrt(n) terms each, as accurate as XLA's
  tree reduction (each float32 stage's rounding error grows with its length), and on XLA:CPU several
  times faster than a `reduce` over the major axes (docs/performance.md).
  """
  c, per_image = a.shape[-1], int(np.prod(a.shape[1:-1]))
  k = _rows_per_sum(per_image, a.size // c)
  rows = a.reshape(a.size // (k * c), k * c)
  ones = jnp.ones((rows.shape[0],), a.dtype)
  partial = jnp.dot(ones, rows, precision=jax.lax.Precision.HIGHEST)
  return partial.reshape(k, c).sum(0)


def _normalize(x, mean, inv, scale, bias) -> jax.Array:
  """`(x - mean) * (inv * scale) + bias` in float32: BatchNorm's output given `inv = rsqrt(var + eps)`."""
  return (x.astype(jnp.float32) - mean) * (inv * scale) + bias


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _normalize_batch(x, scale, bias, epsilon: float):
  """Training-mode BatchNorm over all but the last axis, with its reductions as `channel_sums`.

  `x [B, ..., C]` (any float dtype), `scale`, `bias` `[C] float32`, `epsilon` a Python float ->
  (`[B, ..., C] float32` normalized, `[C]` batch mean, `[C]` biased batch variance), the quantities
  `nn.BatchNorm` computes (fast variance `E[x^2] - E[x]^2`, clipped at 0).
  """
  return _normalize_batch_fwd(x, scale, bias, epsilon)[0]


def _normalize_batch_fwd(x, scale, bias, epsilon):
  x32 = x.astype(jnp.float32)
  n = x.size // x.shape[-1]
  mean = channel_sums(x32) / n
  var = jnp.maximum(0.0, channel_sums(x32 * x32) / n - mean * mean)
  inv = jax.lax.rsqrt(var + epsilon)
  return (_normalize(x, mean, inv, scale, bias), mean, var), (x, scale, mean, inv)


def _normalize_batch_bwd(epsilon, residuals, cotangents):
  del epsilon   # in `inv`
  x, scale, mean, inv = residuals
  dy, dmean, dvar = cotangents
  n = x.size // x.shape[-1]
  x32 = x.astype(jnp.float32)
  dy = dy.astype(jnp.float32)
  xhat = (x32 - mean) * inv
  dbias = channel_sums(dy)
  dscale = channel_sums(dy * xhat)
  dx = (scale * inv / n) * (n * dy - dbias - xhat * dscale)
  dx = dx + dmean / n + dvar * (2.0 / n) * (x32 - mean)   # the batch statistics' own cotangents
  return dx.astype(x.dtype), dscale, dbias


_normalize_batch.defvjp(_normalize_batch_fwd, _normalize_batch_bwd)


class BatchNorm(nn.Module):
  """Drop-in for `nn.BatchNorm` over the last axis: same `scale`/`bias` params, same `mean`/`var` batch
  statistics (float32), same momentum update and result within float rounding.

  In training mode on CPU backends (`cpu_formulations()`) it computes the batch statistics and their
  gradients as matrix-vector products (`channel_sums`) in one custom VJP; XLA:CPU splits the `reduce`s
  of `nn.BatchNorm` over `[B, H, W]` into slow partial sums (docs/performance.md). Elsewhere (GPU/TPU,
  evaluation) it is the same computation as `nn.BatchNorm`.
  """
  use_running_average: bool | None = None
  momentum: float = 0.99
  epsilon: float = 1e-5
  dtype: jnp.dtype | None = None
  use_bias: bool = True
  use_scale: bool = True
  bias_init: object = nn.initializers.zeros
  scale_init: object = nn.initializers.ones

  @nn.compact
  def __call__(self, x, use_running_average: bool | None = None):
    """`[B, ..., C]` -> `[B, ..., C]` in `dtype` (default: x's dtype promoted with float32 params)."""
    use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                         use_running_average)
    features = (x.shape[-1],)
    ra_mean = self.variable("batch_stats", "mean", jnp.zeros, features, jnp.float32)
    ra_var = self.variable("batch_stats", "var", jnp.ones, features, jnp.float32)
    scale = (self.param("scale", self.scale_init, features, jnp.float32) if self.use_scale
             else jnp.ones(features, jnp.float32))
    bias = (self.param("bias", self.bias_init, features, jnp.float32) if self.use_bias
            else jnp.zeros(features, jnp.float32))
    dtype = self.dtype or jnp.promote_types(x.dtype, jnp.float32)
    if use_running_average:
      mean, var = ra_mean.value, ra_var.value
      return _normalize(x, mean, jax.lax.rsqrt(var + self.epsilon), scale, bias).astype(dtype)
    if cpu_formulations():
      y, mean, var = _normalize_batch(x, scale, bias, self.epsilon)
    else:   # nn.BatchNorm's computation
      x32 = x.astype(jnp.float32)
      axes = tuple(range(x.ndim - 1))
      mean, mean2 = x32.mean(axes), (x32 * x32).mean(axes)
      var = jnp.maximum(0.0, mean2 - mean * mean)
      y = _normalize(x, mean, jax.lax.rsqrt(var + self.epsilon), scale, bias)
    if not self.is_initializing():
      ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
      ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    return y.astype(dtype)


def batch_norm(train: bool, dtype=jnp.float32, name: str | None = None, epsilon: float = 1e-5,
               scale_init=nn.initializers.ones) -> BatchNorm:
  return BatchNorm(use_running_average=not train, momentum=0.9, epsilon=epsilon, dtype=dtype,
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


def _pool_windows(x):
  """`[B, H, W, C]` (H, W even) -> the four `[B, H/2, W/2, C]` corners of each 2x2 window, row-major."""
  b, h, w, c = x.shape
  r = x.reshape(b, h // 2, 2, w // 2, 2, c)
  return r[:, :, 0, :, 0], r[:, :, 0, :, 1], r[:, :, 1, :, 0], r[:, :, 1, :, 1]


@jax.custom_vjp
def _max_pool_2x2_elementwise(x):
  a, b, c, d = _pool_windows(x)
  return jnp.maximum(jnp.maximum(a, b), jnp.maximum(c, d))


def _max_pool_2x2_fwd(x):
  y = _max_pool_2x2_elementwise(x)
  return y, (x, y)


def _max_pool_2x2_bwd(residuals, g):
  # The gradient goes to the first maximum of each window in row-major order, as XLA's
  # select-and-scatter with `>=` (the gradient of `nn.max_pool`) sends it.
  x, y = residuals
  a, b, c, d = _pool_windows(x)
  first_a = a == y
  first_b = (b == y) & ~first_a
  first_c = (c == y) & ~(first_a | first_b)
  first_d = ~(first_a | first_b | first_c)
  zero = jnp.zeros_like(g)
  corners = jnp.stack([jnp.where(m, g, zero) for m in (first_a, first_b, first_c, first_d)], axis=-2)
  bb, hh, ww, cc = g.shape
  dx = corners.reshape(bb, hh, ww, 2, 2, cc).transpose(0, 1, 3, 2, 4, 5).reshape(bb, 2 * hh, 2 * ww, cc)
  return (dx,)


_max_pool_2x2_elementwise.defvjp(_max_pool_2x2_fwd, _max_pool_2x2_bwd)


def max_pool_2x2(x) -> jax.Array:
  """`[B, H, W, C]` -> `[B, H // 2, W // 2, C]`: `nn.max_pool(x, (2, 2), strides=(2, 2))`.

  On CPU backends (`cpu_formulations()`) with even H and W it is the elementwise maximum of the four
  window corners, with a custom gradient that routes each window's gradient to its first maximum, as
  `nn.max_pool`'s does: the same values and gradients for finite inputs, where XLA:CPU expands
  `nn.max_pool`'s select-and-scatter gradient into iotas and a scatter ~10x slower (docs/performance.md).
  """
  if cpu_formulations() and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0:
    return _max_pool_2x2_elementwise(x)
  return nn.max_pool(x, (2, 2), strides=(2, 2))


def max_pool_3x3_s2(x) -> jax.Array:
  """torchvision's stem max-pool: 3x3, stride 2, padding 1."""
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))


def logit_head(prior: float, dtype, name: str, kernel_init=nn.initializers.lecun_normal()) -> nn.Conv:
  """The final 1x1 conv to one crack logit, bias initialised to logit(`prior`) (`model.output_prior`)."""
  return nn.Conv(1, (1, 1), dtype=dtype, kernel_init=kernel_init, bias_init=output_bias(prior), name=name)


def check_divisible(x, multiple: int, model: str) -> None:
  if x.shape[1] % multiple or x.shape[2] % multiple:
    raise errors.UserError(f"{model} needs H and W divisible by {multiple}, got input shape {x.shape}; "
                           f"pad or crop the images (config.data.patch_size, config.eval.pad_multiple).")


def side_outputs(logits, side_logits: Sequence[jax.Array], side_weights: Sequence[float]) -> dict:
  """The train-mode output of a deeply supervised model (see `crackjax/models/__init__.py`)."""
  if len(side_logits) != len(side_weights):
    raise ValueError(f"{len(side_logits)} side outputs but {len(side_weights)} weights.")
  return {"logits": logits, "side_logits": tuple(s.astype(jnp.float32) for s in side_logits),
          "side_weights": tuple(float(w) for w in side_weights)}


"""XLA compiler options for crackjax's jitted train and predict functions, chosen per backend.

On CPU, XLA:CPU's library rewriter hands matrix products (with their fusible neighbours) to YNNPACK
when `xla_cpu_experimental_ynn_fusion_type` lists `LIBRARY_FUSION_TYPE_DOT`; jaxlib's default list
holds only `LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT`. Measured on the U-Net train step
(benchmarks/train_throughput.py, docs/performance.md) this is 1.1-1.3x faster on jaxlib 0.10.2 and 1.16x on
jaxlib 0.12.0.1 (0.604 vs 0.703 s), with the same numbers within float rounding (tests/test_step.py). The option is experimental in XLA, so it is set per compiled
function (`jax.jit(..., compiler_options=...)`), never globally, and only on the CPU backend: GPU and TPU
compile with their defaults. `CRACKJAX_XLA_CPU_DEFAULTS=1` turns it off (to compare, or if a future
jaxlib rejects the option).
"""

from __future__ import annotations

import os

import jax


_CPU = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


def for_backend(backend: str | None = None) -> dict[str, str]:
  """The options for `backend` (default: JAX's default backend); `{}` means XLA's defaults."""
  if os.environ.get("CRACKJAX_XLA_CPU_DEFAULTS") == "1":
    return {}
  return dict(_CPU) if (backend or jax.default_backend()) == "cpu" else {}

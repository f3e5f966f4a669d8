r"""The inputs of the scaling estimate in docs/scaling.md, measured for a config on this machine.

    python benchmarks/scaling_inputs.py --config configs/default.py --devices 8 --steps 10

Prints JSON: the parameter count and float32 gradient bytes; the all-reduces XLA put into the
data-parallel train step compiled for `--devices` fake CPU devices (count and payload bytes, read
from the optimized HLO); XLA's FLOP count of one step; and the wall time of one train step on ONE
device (the default backend's first device: a GPU or TPU where there is one) at the config's global
batch. Random uint8 pools stand in for data: the step's cost does not depend on pixel values.
On a shared machine run it under `flock /tmp/crackjax_timing.lock`.
"""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np
from absl import app
from absl import flags
from ml_collections import config_flags

from crackjax import models
from crackjax.balance import methods
from crackjax.training import parallel
from crackjax.training import state as state_lib
from crackjax.training import step as step_lib


_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/*.py", lock_config=True)
_DEVICES = flags.DEFINE_integer("devices", 4, "fake CPU devices for the compiled multi-device step")
_STEPS = flags.DEFINE_integer("steps", 10, "timed single-device steps (after one warm-up step)")
flags.mark_flag_as_required("config")


def _setup(config, devices):
  mesh = jax.sharding.Mesh(np.array(devices), (parallel.DATA_AXIS,),   # Auto axis, as parallel.make_mesh
                           axis_types=(jax.sharding.AxisType.Auto,))
  data, repl = parallel.batch_sharding(mesh), parallel.replicated(mesh)
  model = models.get_model(config.model)
  tx = state_lib.make_optimizer(config.optimizer, config.total_steps)
  balance0 = methods.initial_balance(config.balance, 0.15, 0.003)
  state = state_lib.create(model, tx, config.seed, config.data.patch_size, balance0, repl)
  b, s = config.batch_size, config.data.patch_size
  rng = np.random.default_rng(0)
  host = {"pos_image": rng.integers(0, 256, (b, s, s, 3), np.uint8),
          "neg_image": rng.integers(0, 256, (b, s, s, 3), np.uint8),
          "pos_mask": (rng.random((b, s, s, 1)) < 0.05).astype(np.uint8),
          "neg_mask": np.zeros((b, s, s, 1), np.uint8)}
  batch = jax.device_put(host, data)
  return step_lib.make_train_step(config, repl, data), state, batch


def _collectives(hlo: str) -> dict:
  sizes = parallel.all_reduce_bytes(hlo)
  return {"all_reduce_ops": len(sizes), "all_reduce_bytes": int(sum(sizes)),
          "largest_all_reduce_bytes": int(max(sizes, default=0)),
          "all_reduce_ops_under_64KiB": int(sum(n < 65536 for n in sizes))}


def main(argv):
  del argv
  config = _CONFIG.value
  if config.batch_size % _DEVICES.value:
    raise app.UsageError(f"config.batch_size={config.batch_size} must be divisible by "
                         f"--devices={_DEVICES.value}")
  jax.config.update("jax_num_cpu_devices", _DEVICES.value)  # before the backend starts
  step_n, state_n, batch_n = _setup(config, jax.devices("cpu"))
  hlo = step_n.lower(state_n, batch_n).compile().as_text()
  params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(state_n.params))
  out = {"config_batch_size": config.batch_size, "patch_size": config.data.patch_size,
         "params": params, "grad_bytes_f32": 4 * params, "devices_compiled": _DEVICES.value,
         **_collectives(hlo)}
  del step_n, state_n, batch_n

  step_1, state_1, batch_1 = _setup(config, jax.devices()[:1])
  cost = step_1.lower(state_1, batch_1).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  out["step_flops"] = float(cost.get("flops", float("nan")))  # XLA's count, whole global batch
  state_1, m = step_1(state_1, batch_1)
  jax.block_until_ready(m)
  times = []
  for _ in range(_STEPS.value):
    t0 = time.perf_counter()
    state_1, m = step_1(state_1, batch_1)
    jax.block_until_ready(m)
    times.append(time.perf_counter() - t0)
  out.update(single_device_step_s=float(np.mean(times)), single_device_step_s_min=float(np.min(times)),
             timed_steps=len(times), timing_device=str(jax.devices()[0].device_kind),
             load_average=[round(x, 2) for x in os.getloadavg()], jax=jax.__version__)
  print(json.dumps(out, indent=2))


if __name__ == "__main__":
  app.run(main)

"""Devices, mesh and shardings for the data-parallel step; multi-host initialisation.

We use a global-view `jax.jit` with `NamedSharding`s instead of `jax.pmap`: since JAX 0.8 pmap is in
maintenance mode and itself built on jit + shard_map. The batch is sharded over the `data` mesh axis,
the train state is replicated; XLA inserts the gradient all-reduce and computes BatchNorm statistics
and metric sums over the global batch.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def maybe_initialize_distributed() -> None:
  """Calls `jax.distributed.initialize()` when CRACKJAX_DISTRIBUTED=1 (Cloud TPU, SLURM, Open MPI auto-
  detected; or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID set explicitly)."""
  if os.environ.get("CRACKJAX_DISTRIBUTED", "0") not in ("1", "true", "True"):
    return
  kwargs = {}
  if "JAX_COORDINATOR_ADDRESS" in os.environ:
    kwargs = dict(coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
                  num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
                  process_id=int(os.environ["JAX_PROCESS_ID"]))
  if jax.config.jax_platforms in (None, "", "cpu") and not jax.config.jax_cpu_collectives_implementation:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(**kwargs)
  logging.info("jax.distributed: process %d of %d, %d local / %d global devices",
               jax.process_index(), jax.process_count(), jax.local_device_count(), jax.device_count())


def make_mesh() -> jax.sharding.Mesh:
  return jax.make_mesh((jax.device_count(),), (DATA_AXIS,))


def batch_sharding(mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_size(batch_size: int, what: str = "config.batch_size") -> int:
  """Returns the per-process batch size; fails with a clear message when it does not divide."""
  if batch_size % jax.device_count():
    raise ValueError(f"{what}={batch_size} must be divisible by the {jax.device_count()} devices; "
                     f"set --{what}= a multiple of {jax.device_count()}.")
  return batch_size // jax.process_count()


def to_global(local_batch: dict, sharding: NamedSharding) -> dict:
  """Host-local numpy arrays (this process's slice of the batch) -> global `jax.Array`s."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
                      local_batch)

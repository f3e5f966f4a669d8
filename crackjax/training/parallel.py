"""Devices, mesh and shardings for the data-parallel step; multi-host initialisation.

We use a global-view `jax.jit` with `NamedSharding`s instead of `jax.pmap`: since JAX 0.8 pmap is in
maintenance mode and itself built on jit + shard_map. The batch is sharded over the `data` mesh axis,
the train state is replicated; XLA inserts the gradient all-reduce and computes BatchNorm statistics
and metric sums over the global batch.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from typing import Callable
from typing import TypeVar

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from orbax.checkpoint import multihost

from crackjax import errors


T = TypeVar("T")
_BARRIERS = itertools.count()

DATA_AXIS = "data"


def maybe_initialize_distributed() -> None:
  """Joins the multi-process JAX runtime when CRACKJAX_DISTRIBUTED=1; does nothing otherwise.

  Where the processes find each other:
    - Cloud TPU VM / pod slice, SLURM (`srun`), Open MPI (`mpirun`): auto-detected by
      `jax.distributed.initialize()`; nothing else to set.
    - anywhere else (e.g. `launch/local_multiprocess.sh`): JAX_COORDINATOR_ADDRESS=host:port,
      JAX_NUM_PROCESSES and JAX_PROCESS_ID (0 .. N-1) in every process's environment.
    - CRACKJAX_LOCAL_DEVICE_IDS=0,1,... : the accelerators this process drives. Under SLURM, JAX
      otherwise gives each process only GPU number SLURM_LOCALID (one process per GPU); set it to all
      of a node's GPUs when running one process per node (`launch/slurm_gpu.sbatch` does).
  On CPU the cross-process collectives run over gloo.
  """
  if os.environ.get("CRACKJAX_DISTRIBUTED", "0").lower() not in ("1", "true"):
    return
  kwargs = {}
  if "JAX_COORDINATOR_ADDRESS" in os.environ:
    missing = [k for k in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID") if k not in os.environ]
    if missing:
      raise errors.UserError(f"JAX_COORDINATOR_ADDRESS={os.environ['JAX_COORDINATOR_ADDRESS']} is set but "
                             f"{missing} are not; set all three (or none, to auto-detect Cloud TPU / SLURM / "
                             f"Open MPI).")
    kwargs = dict(coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
                  num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
                  process_id=int(os.environ["JAX_PROCESS_ID"]))
  if os.environ.get("CRACKJAX_LOCAL_DEVICE_IDS"):
    kwargs["local_device_ids"] = [int(i) for i in os.environ["CRACKJAX_LOCAL_DEVICE_IDS"].split(",")]
  if jax.config.jax_platforms in (None, "", "cpu") and not jax.config.jax_cpu_collectives_implementation:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(**kwargs)
  logging.info("jax.distributed: process %d of %d, %d local / %d global devices",
               jax.process_index(), jax.process_count(), jax.local_device_count(), jax.device_count())


def is_main_process() -> bool:
  """True on process 0, the one that writes logs, metrics, plots and result files."""
  return jax.process_index() == 0


def process_0_first(fn: Callable[[], T], what: str, timeout_s: int = 4 * 3600) -> T:
  """Runs `fn` on process 0, then (after a barrier) on all other processes; returns its result.

  For work with a cache on disk (preparing a tfds dataset, building the patch index): process 0 fills
  the cache alone; the others then find it filled on a shared filesystem, or fill their own on a local
  disk. The barrier uses the distributed runtime's key-value store, not a device collective, so a
  slow `fn` (hours of dataset preparation) does not trip collective timeouts.
  """
  if jax.process_count() == 1:
    return fn()
  barrier = multihost.get_barrier_sync_fn()
  result = fn() if is_main_process() else None
  # Barrier keys must not repeat; every process makes these calls in the same order.
  barrier(key=f"crackjax_process_0_first_{what}_{next(_BARRIERS)}", timeout_ms=timeout_s * 1000)
  return result if is_main_process() else fn()


def check_shared_directory(path: str) -> None:
  """Fails on every process unless all processes see the same directory at `path`.

  Orbax writes one checkpoint from all processes and process 0 alone writes config.json and the
  metrics, so a multi-host workdir must be on a filesystem every host mounts at the same path.
  Process 0 writes a token file there; each process then looks for it.
  """
  if jax.process_count() == 1:
    return
  nonce = int(multihost_utils.broadcast_one_to_all(np.int32(np.random.randint(1 << 30))))
  token = os.path.join(path, f".crackjax_shared_{nonce}")
  if is_main_process():
    with open(token, "w") as f:
      f.write("written by process 0 to check that every process sees this directory\n")
  barrier = multihost.get_barrier_sync_fn()
  barrier(key=f"crackjax_shared_written_{nonce}", timeout_ms=600_000)
  seen = np.asarray(multihost_utils.process_allgather(np.int32(os.path.exists(token))))
  barrier(key=f"crackjax_shared_checked_{nonce}", timeout_ms=600_000)
  if is_main_process():
    os.remove(token)
  missing = [i for i, s in enumerate(seen.ravel()) if not s]
  if missing:
    raise errors.UserError(
        f"--workdir {path} is not shared: processes {missing} of {jax.process_count()} do not see the "
        f"file process 0 wrote there. A multi-host run needs a workdir on a filesystem every host "
        f"mounts at the same path (NFS, Filestore, Lustre, ...): orbax writes each checkpoint from all "
        f"processes.")


def make_mesh() -> jax.sharding.Mesh:
  """1-D `data` mesh over all devices, grouped by process.

  `jax.make_mesh` orders devices for the interconnect (a ring on TPU), which may interleave hosts;
  a stable sort by process keeps that order within each host and gives process p the contiguous
  rows [p * b, (p + 1) * b) of every batch-sharded array (b = global batch / process count), the
  slice its data pipeline loads (crackjax/data/input_pipeline.py). A pure data-parallel all-reduce spans
  all devices either way.

  The axis is `AxisType.Auto` (`jax.make_mesh` defaults to Explicit): XLA propagates the batch sharding
  through the model, so model and loss code (reshapes across the batch, global pooling) needs no
  sharding annotations.
  """
  auto = (jax.sharding.AxisType.Auto,)
  mesh = jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=auto)
  devices = sorted(mesh.devices.ravel(), key=lambda d: d.process_index)  # stable sort
  return jax.sharding.Mesh(np.array(devices), (DATA_AXIS,), axis_types=auto)


def batch_sharding(mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_size(batch_size: int, what: str = "config.batch_size") -> int:
  """Returns the per-process batch size; fails with a clear message when it does not divide."""
  if batch_size % jax.device_count():
    raise errors.UserError(f"{what}={batch_size} must be divisible by the {jax.device_count()} devices; "
                           f"set --{what}= a multiple of {jax.device_count()}.")
  return batch_size // jax.process_count()


def to_global(local_batch: dict, sharding: NamedSharding) -> dict:
  """Host-local numpy arrays (this process's slice of the batch) -> global `jax.Array`s."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
                      local_batch)


_DTYPE_BYTES = {"pred": 1, "s8": 1, "u8": 1, "bf16": 2, "f16": 2, "s16": 2, "u16": 2, "f32": 4, "s32": 4,
                "u32": 4, "f64": 8, "s64": 8, "u64": 8}


def process_rows(global_batch: int) -> slice:
  """This process's rows of a global batch of `global_batch` rows (a multiple of the process count):
  process p feeds rows [p * n, (p + 1) * n), n = global_batch / process_count."""
  local = global_batch // jax.process_count()
  return slice(jax.process_index() * local, (jax.process_index() + 1) * local)


def gather(array) -> np.ndarray:
  """A global (sharded) array as one numpy array on every host (an all-gather across processes)."""
  if jax.process_count() > 1:
    return np.asarray(multihost_utils.process_allgather(array, tiled=True))
  return np.asarray(array)


def all_reduce_bytes(hlo_text: str) -> list[int]:
  """Payload bytes of each all-reduce in an optimized HLO module (`jitted.lower(...).compile().as_text()`),
  in program order: what one device contributes, summed over a combined all-reduce's operands."""
  sizes = []
  for line in hlo_text.splitlines():
    m = re.match(r"\s*(?:ROOT )?%[\w.-]+ = (.*?) all-reduce(?:-start)?\(", line)
    if m:
      shapes = re.findall(r"(\w+)\[([\d,]*)\]", re.sub(r"/\*.*?\*/", "", m.group(1)))
      sizes.append(sum(_DTYPE_BYTES[t] * math.prod(int(d) for d in dims.split(",") if d)
                       for t, dims in shapes))
  return sizes

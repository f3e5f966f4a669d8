"""Grain pipelines: balanced patch pools for training, padded full images for evaluation.

Training. Element `s` of the stream is the pool for step `s`: B positive and B negative candidate patches
(B = global batch), drawn uniformly from the patch index with `np.random.default_rng([seed, s])`, cropped
from the full images, then flipped/rotated and photometrically jittered. The jitted step picks each slot's
patch at the rate held in the train state (crackjax/training/step.py). Each element depends only on (seed, s), so
the stream is deterministic, identical for any number of workers, devices or hosts (host p loads only
its slice of the global pool), and resumes exactly from Grain's iterator state.

This package imports no JAX model code.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import threading
import gc
import time
from multiprocessing import resource_tracker

import grain
import numpy as np
from grain._src.python.ipc import shared_memory_array

from crackjax import errors
from crackjax import library_noise
from crackjax.data import lru_cache
from crackjax.data.patch_index import PatchIndex


def crop(array: np.ndarray, y: int, x: int, size: int) -> np.ndarray:
  """`[H, W, C]` -> `[size, size, C]` window at (y, x), zero-padded where the image is smaller."""
  out = array[y:y + size, x:x + size]
  if out.shape[0] < size or out.shape[1] < size:
    out = np.pad(out, ((0, size - out.shape[0]), (0, size - out.shape[1]), (0, 0)))
  return out


def dihedral(array: np.ndarray, code: int) -> np.ndarray:
  """One of the 8 flips/90-degree rotations of a square `[S, S, C]` array (code in [0, 8))."""
  array = np.rot90(array, k=code % 4, axes=(0, 1))
  return array[:, ::-1] if code >= 4 else array


def photometric(image: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
  """`[S, S, 3] uint8`: contrast scaled about the patch mean, then brightness shifted (fraction of 255)."""
  x = image.astype(np.float32)
  x = (x - x.mean()) * contrast + x.mean() + brightness * 255.0
  return np.clip(np.rint(x), 0, 255).astype(np.uint8)


class FullImages:
  """Crops from whole images decoded by a tfds data source, with an LRU of `cache_images` decoded images
  per process (the right choice for images of up to a few megapixels; for larger ones see
  crackjax/data/tile_store.py). `crop(i, y, x, size)` -> image `[S, S, 3] uint8`, mask `[S, S, 1] uint8`.
  """

  def __init__(self, source, cache_images: int = 32):
    self.source, self.cache_images = source, cache_images
    self._cache = lru_cache.LRUCache(cache_images)

  def _example(self, i: int) -> tuple[np.ndarray, np.ndarray]:
    def load():
      example = self.source[i]
      return example["image"], example["mask"]
    return self._cache.get(i, load)

  def crop(self, i: int, y: int, x: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    image, mask = self._example(i)
    return crop(image, y, x, size), crop(mask, y, x, size)


class PoolSampler:
  """Maps a step number to this process's slice of that step's pool of candidate patches.

  Output: pos_image, neg_image `[b, S, S, 3] uint8`; pos_mask, neg_mask `[b, S, S, 1] uint8` {0, 1};
  b = global_batch / process_count. Patches are cropped by `images` (anything with
  `crop(i, y, x, size)`: `FullImages` of `source` by default, or a `tile_store.TiledImages`).
  """

  def __init__(self, source, index: PatchIndex, *, patch_size: int, global_batch: int, seed: int,
               augment: bool = True, brightness: float = 0.1, contrast: float = 0.1,
               process_index: int = 0, process_count: int = 1, cache_images: int = 32, images=None):
    if len(index.pos) == 0 or len(index.neg) == 0:
      raise errors.UserError(
          f"the training split has {len(index.pos)} positive and {len(index.neg)} negative patches of "
          f"size {patch_size}; both pools need patches. Lower config.data.patch_size or "
          f"config.data.min_crack_pixels, or check that the masks hold cracks.")
    if global_batch % process_count:
      raise errors.UserError(f"config.batch_size={global_batch} must be divisible by {process_count} "
                             f"processes.")
    self.images = images if images is not None else FullImages(source, cache_images)
    self.index = index
    self.patch_size, self.global_batch, self.seed = patch_size, global_batch, seed
    self.augment, self.brightness, self.contrast = augment, brightness, contrast
    local = global_batch // process_count
    self.slice = slice(process_index * local, (process_index + 1) * local)

  def draw(self, step: int) -> dict:
    """The global pool's patch rows and augmentation parameters for `step` (cheap, no image I/O)."""
    rng = np.random.default_rng([self.seed, step])
    b = self.global_batch
    return {
        "pos": self.index.pos[rng.integers(len(self.index.pos), size=b)],
        "neg": self.index.neg[rng.integers(len(self.index.neg), size=b)],
        "dihedral": rng.integers(8, size=(2, b)),
        "brightness": rng.uniform(-self.brightness, self.brightness, size=(2, b)),
        "contrast": rng.uniform(1 - self.contrast, 1 + self.contrast, size=(2, b)),
    }

  def __call__(self, step: int) -> dict:
    plan = self.draw(int(step))
    out = {}
    for k, kind in enumerate(("pos", "neg")):
      images, masks = [], []
      for slot in range(self.slice.start, self.slice.stop):
        image_id, y, x = (int(v) for v in plan[kind][slot])
        image, mask = self.images.crop(image_id, y, x, self.patch_size)
        if self.augment:
          code = int(plan["dihedral"][k, slot])
          image, mask = dihedral(image, code), dihedral(mask, code)
          image = photometric(image, plan["brightness"][k, slot], plan["contrast"][k, slot])
        images.append(image)
        masks.append(mask)
      out[f"{kind}_image"] = np.stack(images)
      out[f"{kind}_mask"] = (np.stack(masks) > 0).astype(np.uint8)
    return out


def train_dataset(sampler: PoolSampler, num_steps: int, num_workers: int) -> grain.IterDataset:
  """The stream of per-step pools, prefetched by `num_workers` processes (0: in this process).

  The worker processes end as soon as this process ends, however it ends (`end_with_parent`), and
  leave SIGTERM and SIGINT to it (`leave_stop_signals_to_parent`).
  """
  ds = grain.MapDataset.range(num_steps).map(sampler).to_iter_dataset(
      grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
  if num_workers > 0:
    ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers, per_worker_buffer_size=2),
                        worker_init_fn=functools.partial(_worker_init, os.getpid()))
  return ds


def end_with_parent(parent_pid: int, worker_index: int = 0, worker_count: int = 1) -> None:
  """Grain worker init (`mp_prefetch(worker_init_fn=...)`): ends this worker when `parent_pid` ends.

  Grain's workers are processes of their own (~0.3 GB each). When the trainer dies of a signal it
  cannot handle (SIGKILL, or SIGTERM's default action) nobody closes them, and they live on, adopted
  by init. Here a daemon thread of the worker waits on a pidfd of the trainer (Linux >= 5.3; elsewhere
  it polls `os.getppid()` every 0.2 s) and exits the worker the moment the trainer is gone. Right after
  the pidfd is opened the parent is checked to still be `parent_pid`, so a trainer that died before
  (its pid perhaps reused) is caught too. `prctl(PR_SET_PDEATHSIG)` is not used: Linux sends that
  signal when the *thread* that started the worker exits, not the process, and Grain starts its
  workers from its own helper threads, whose lifetime is Grain's business; a pidfd watches the process.
  """
  del worker_index, worker_count
  pidfd = None
  try:
    pidfd = os.pidfd_open(parent_pid)
  except (AttributeError, OSError):     # no pidfd (not Linux >= 5.3), or the parent is already gone
    pass
  if os.getppid() != parent_pid:
    os._exit(1)

  def wait_and_exit():
    if pidfd is not None:
      select.select([pidfd], [], [])     # readable once the parent has exited
    else:
      while os.getppid() == parent_pid:
        time.sleep(0.2)
    os._exit(1)

  threading.Thread(target=wait_and_exit, name="end_with_parent", daemon=True).start()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignalsHeldFromWorkers:
  """Blocks SIGTERM and SIGINT in this thread from construction until `release()`, so that Grain's
  worker processes start with them blocked and they wait there until the worker ignores them.

  Grain starts its workers on the first batch (or on a restore's `start_prefetch`) from helper threads
  that this thread creates then, and a thread, and a process it spawns, inherits its creator's signal
  mask. Unblocked, a SIGTERM or Ctrl-C to the process group in the first seconds of a run (the workers
  import and unpickle their dataset before `leave_stop_signals_to_parent` runs) killed them, and the
  trainer ended with Grain's "Worker process was terminated unexpectedly" traceback. This thread's
  own handlers still run meanwhile: the kernel hands a process-wide signal to a thread that does not
  block it (JAX's), and Python runs the handler in the main thread. Release once the first batch is in;
  releasing again does nothing. Without workers (`num_workers=0`) it does nothing.

  Python's resource tracker is started first: starting it (on the first spawn) unblocks SIGTERM and
  SIGINT in the spawning thread whatever its mask was (CPython's multiprocessing/resource_tracker.py
  blocks them around its own spawn, bpo-33613, then unblocks), so the first worker started unprotected.
  """

  def __init__(self, num_workers: int):
    self._previous = None
    if num_workers > 0:
      resource_tracker.ensure_running()
      self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

  def release(self) -> None:
    if self._previous is not None:
      signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)
      self._previous = None


def leave_stop_signals_to_parent(worker_index: int = 0, worker_count: int = 1) -> None:
  """Grain worker init: this worker ignores SIGTERM and SIGINT; the trainer alone decides when to stop.

  Schedulers often signal the whole process group, not only the trainer: SLURM's `scancel` and time
  limits, `kill -TERM -PGID`, Ctrl-C in a terminal (SIGINT). A worker that died of such a signal
  mid-write leaves a partial message in Grain's queue, and the trainer, which had already honoured the
  SIGTERM and saved its checkpoint, then hung for good in Grain's close (`Queue.get_nowait` blocking on
  the half-written message) until the scheduler's SIGKILL, leaking the queue's shared memory. The
  trainer stops its workers itself: Grain's close sets their stop event, joins them and SIGKILLs what
  is left; and a worker whose trainer is gone exits by `end_with_parent`. SIGKILL still ends a worker.
  A worker started under `StopSignalsHeldFromWorkers` has them blocked until here: ignoring them
  discards what is pending, and they stay blocked (ignored either way).
  """
  del worker_index, worker_count
  for sig in STOP_SIGNALS:
    signal.signal(sig, signal.SIG_IGN)


def _worker_init(parent_pid: int, worker_index: int, worker_count: int) -> None:
  """Grain worker init: leave SIGTERM/SIGINT to the trainer (`leave_stop_signals_to_parent`), end with
  the trainer (`end_with_parent`) and filter the known library noise."""
  leave_stop_signals_to_parent(worker_index, worker_count)
  end_with_parent(parent_pid, worker_index, worker_count)
  library_noise.worker_init(worker_index, worker_count)


def close_stream(iterator) -> None:
  """Closes a training stream and frees its shared memory now, not at interpreter exit.

  Grain's worker processes hand each array over in shared memory, which the main process unlinks
  when the array is deleted, in a background thread (Grain's SharedMemoryArray asynchronous
  deletion). Arrays still alive at exit (in reference cycles of the closed iterator) are deleted when
  that thread no longer runs, so they stay linked and multiprocessing's resource_tracker warns
  "There appear to be N leaked shared_memory objects to clean up at shutdown". So: close the
  iterator, collect the cycles, and wait until the queued deletions are done.
  """
  close = getattr(iterator, "close", None)
  if close is not None:
    close()
  gc.collect()
  # The deletion pool has one thread and runs its tasks in order: a no-op queued now returns after
  # every deletion queued before it. (Grain-internal; skipped if a later Grain changes it.)
  pool = getattr(getattr(shared_memory_array, "SharedMemoryArray", None), "_del_thread_pool", None)
  if pool is not None:
    pool.apply(int)


def pad_to_multiple(array: np.ndarray, height: int, width: int) -> np.ndarray:
  """`[H, W, C]` -> `[height, width, C]`, mirrored at the bottom/right edges."""
  h, w = array.shape[:2]
  return np.pad(array, ((0, height - h), (0, width - w), (0, 0)), mode="symmetric")


def full_image_batches(source, batch_size: int, stride: int):
  """Yields evaluation batches of full images, each padded (mirror) to a multiple of `stride`.

  Yields dicts: image `[b, H, W, 3] uint8` (b = batch_size; missing slots zero-filled), and per slot
  the original `mask [h, w]` uint8, `stem` and `size` (h, w) for the valid slots only.
  """
  n = len(source)
  for start in range(0, n, batch_size):
    examples = [source[i] for i in range(start, min(start + batch_size, n))]
    shapes = [e["image"].shape[:2] for e in examples]
    height = -(-max(s[0] for s in shapes) // stride) * stride
    width = -(-max(s[1] for s in shapes) // stride) * stride
    images = np.zeros((batch_size, height, width, 3), np.uint8)
    for j, e in enumerate(examples):
      images[j] = pad_to_multiple(e["image"], height, width)
    yield {"image": images,
           "mask": [e["mask"][..., 0] for e in examples],
           "stem": [e["stem"].decode() if isinstance(e["stem"], bytes) else str(e["stem"])
                    for e in examples],
           "size": shapes}

r"""Input-pipeline memory and speed: large synthetic images, and the pipeline against the training step.

Every measurement runs in a fresh child process, so peak RSS (`ru_maxrss`) is that measurement's own.
Wrap runs in `flock /tmp/crackjax_timing.lock` on a shared machine and note `uptime` beside the numbers
(docs/data.md has the figures and the exact commands).

    # 1. HRRC-like data: 200 synthetic 4096x4096 road images (JPEG q90 + PNG masks) in the crack_folder
    #    layout, cycling 8 distinct draws of crackjax.data.synthetic (nothing in the pipeline dedupes), and
    #    copies holding the first 50 and 100 of them (symlinks).
    python benchmarks/input_pipeline.py make-data --out /tmp/cj_big --count 200 --distinct 8

    # 2. Peak RSS of preparing each copy, and of streaming 512x512 patches from it (one process = one
    #    Grain worker), whole-image crops vs the tile store (PNG and raw tiles); patches/s per worker.
    python benchmarks/input_pipeline.py large --data /tmp/cj_big --tfds-dir /tmp/cj_big_tfds \
        --counts 50,100,200 --patch 512 --steps 12

    # 3. Pipeline vs training step for a config: pools/s of the pipeline (0 and the config's workers),
    #    train steps/s on a fixed batch, and a real run of both together (time spent waiting for data).
    python benchmarks/input_pipeline.py race --config configs/default.py --tfds-dir /tmp/cj_race_tfds
    python benchmarks/input_pipeline.py race --config configs/cfd.py --tfds-dir /tmp/cj_race_tfds \
        --set data.name=crack_folder --set data.manual_dir=../shared/datasets/cfd
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import resource
import subprocess
import sys
import time

import PIL.Image


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(args: list[str]) -> dict:
  """Runs `python this_file _<args>` and returns the JSON object it prints last."""
  out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True,
                       cwd=REPO, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  if out.returncode != 0:
    raise RuntimeError(f"child {args} failed:\n{out.stderr[-4000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])


def _load_config(path: str, overrides: list[str]):
  spec = importlib.util.spec_from_file_location("bench_config", os.path.join(REPO, path))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  for item in overrides:
    key, value = item.split("=", 1)
    node = config
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    old = node[leaf]
    node[leaf] = type(old)(value) if not isinstance(old, bool) else value.lower() == "true"
  return config


# ------------------------------------------------------------------------------------------------
# 1. Data.
# ------------------------------------------------------------------------------------------------


def make_data(out: str, count: int, distinct: int, size: int) -> None:
  from crackjax.data import synthetic  # noqa: PLC0415
  base = os.path.join(out, f"n{count}")
  os.makedirs(os.path.join(base, "images"), exist_ok=True)
  os.makedirs(os.path.join(base, "masks"), exist_ok=True)
  spec = synthetic.SyntheticSpec(height=size, width=size)
  blobs = []
  for k in range(distinct):
    t = time.time()
    image, mask = synthetic.generate(0, k, spec)
    jpg, png = io.BytesIO(), io.BytesIO()
    PIL.Image.fromarray(image).save(jpg, format="JPEG", quality=90)
    PIL.Image.fromarray(mask * 255).save(png, format="PNG")
    blobs.append((jpg.getvalue(), png.getvalue()))
    print(f"draw {k}: {time.time() - t:.1f} s, {len(blobs[-1][0]) / 1e6:.1f} MB JPEG, "
          f"crack {100 * mask.mean():.3f}%", flush=True)
  rows = []
  for i in range(count):
    stem = f"road_{i:04d}"
    jpg, png = blobs[i % distinct]
    with open(os.path.join(base, "images", stem + ".jpg"), "wb") as f:
      f.write(jpg)
    with open(os.path.join(base, "masks", stem + ".png"), "wb") as f:
      f.write(png)
    # Every 10th image is test, every 10th (offset 5) val: train holds 80%.
    rows.append((stem, "test" if i % 10 == 0 else ("val" if i % 10 == 5 else "train")))
  with open(os.path.join(base, "splits.csv"), "w") as f:
    f.write("stem,split\n" + "".join(f"{s},{p}\n" for s, p in rows))
  for n in (50, 100):
    if n >= count:
      continue
    sub = os.path.join(out, f"n{n}")
    for d in ("images", "masks"):
      os.makedirs(os.path.join(sub, d), exist_ok=True)
    for stem, _ in rows[:n]:
      for d, ext in (("images", ".jpg"), ("masks", ".png")):
        link = os.path.join(sub, d, stem + ext)
        if not os.path.exists(link):
          os.symlink(os.path.join(base, d, stem + ext), link)
    with open(os.path.join(sub, "splits.csv"), "w") as f:
      f.write("stem,split\n" + "".join(f"{s},{p}\n" for s, p in rows[:n]))
  print(f"wrote {count} pairs to {base}")


# ------------------------------------------------------------------------------------------------
# 2. Large images: preparation and streaming, each in its own process.
# ------------------------------------------------------------------------------------------------


def _data_config(manual_dir: str, tfds_dir: str, **kw):
  from crackjax import config_base  # noqa: PLC0415
  d = config_base.base().data
  d.name, d.manual_dir, d.tfds_dir = "crack_folder", manual_dir, tfds_dir
  for k, v in kw.items():
    setattr(d, k, v)
  return d


def child_prepare(manual_dir: str, tfds_dir: str, patch: int) -> dict:
  from crackjax.data import patch_index  # noqa: PLC0415
  from crackjax.data import sources  # noqa: PLC0415
  t = time.time()
  d = _data_config(manual_dir, tfds_dir)
  builder = sources.get_builder(d)
  t_prep = time.time() - t
  rss_prep = _rss_mb()
  t = time.time()
  index = patch_index.load_or_build(sources.split_source(builder, "train", decode_images=False),
                                builder.data_dir, "train", patch, patch, 1)
  return {"prepare_s": t_prep, "prepare_peak_rss_mb": rss_prep, "index_s": time.time() - t,
          "peak_rss_mb": _rss_mb(), "train_images": builder.info.splits["train"].num_examples,
          "pos": len(index.pos), "neg": len(index.neg)}


def _stream_config(manual_dir, tfds_dir, tile, codec, cache_images, tile_cache_mb):
  return _data_config(manual_dir, tfds_dir, crop_tile_size=tile, crop_tile_codec=codec,
                      cache_images=cache_images, crop_tile_cache_mb=tile_cache_mb)


def child_build(manual_dir: str, tfds_dir: str, tile: int, codec: str) -> dict:
  from crackjax.data import sources  # noqa: PLC0415
  d = _stream_config(manual_dir, tfds_dir, tile, codec, 32, 256)
  builder = sources.get_builder(d)
  t = time.time()
  images = sources.crop_source(builder, "train", d)       # builds the tile store unless it exists
  files = [os.path.join(images.path, f) for f in os.listdir(images.path)]
  return {"store_build_s": time.time() - t, "build_peak_rss_mb": _rss_mb(),
          "store_gb": sum(os.path.getsize(f) for f in files) / 1e9}


def child_stream(manual_dir: str, tfds_dir: str, patch: int, tile: int, codec: str, steps: int,
                 batch: int, cache_images: int, tile_cache_mb: int) -> dict:
  from crackjax.data import input_pipeline  # noqa: PLC0415
  from crackjax.data import patch_index  # noqa: PLC0415
  from crackjax.data import sources  # noqa: PLC0415
  d = _stream_config(manual_dir, tfds_dir, tile, codec, cache_images, tile_cache_mb)
  builder = sources.get_builder(d)
  index = patch_index.load_or_build(sources.split_source(builder, "train", decode_images=False),
                                builder.data_dir, "train", patch, patch, 1)
  images = sources.crop_source(builder, "train", d)       # the store exists (child_build)
  rss_before = _rss_mb()
  sampler = input_pipeline.PoolSampler(None, index, patch_size=patch, global_batch=batch, seed=0, images=images)
  sampler(0)                                                 # warm-up (imports, first reads)
  t, cpu = time.time(), time.process_time()
  for step in range(1, steps + 1):
    sampler(step)
  dt, dcpu = time.time() - t, time.process_time() - cpu
  n = 2 * batch * steps
  # patches per CPU-second: the rate of one worker on a core of its own (wall time on a loaded machine
  # also counts other processes' turns; CPU time leaves out waits for the disk).
  return {"rss_before_stream_mb": rss_before, "peak_rss_mb": _rss_mb(), "patches": n,
          "patches_per_s": n / dt, "patches_per_cpu_s": n / dcpu}


def large(data: str, tfds_dir: str, counts: list[int], patch: int, steps: int, batch: int,
          tiles: list[str], cache_images: int, tile_cache_mb: int, prepare: bool) -> None:
  for n in counts:
    manual = os.path.join(data, f"n{n}")
    if prepare:
      print(json.dumps({"images": n, "what": "prepare+index",
                        **_child(["_prepare", manual, tfds_dir, str(patch)])}), flush=True)
    for spec in tiles:
      tile, codec = (int(spec.split(":")[0]), spec.split(":")[1]) if ":" in spec else (int(spec), "png")
      what = "whole images" if tile == 0 else f"tiles {tile} {codec}"
      row = {"images": n, "what": what}
      if tile:
        row.update(_child(["_build", manual, tfds_dir, str(tile), codec]))
      row.update(_child(["_stream", manual, tfds_dir, str(patch), str(tile), codec, str(steps), str(batch),
                         str(cache_images), str(tile_cache_mb)]))
      print(json.dumps(row), flush=True)


# ------------------------------------------------------------------------------------------------
# 3. Pipeline vs train step.
# ------------------------------------------------------------------------------------------------


def _train_sampler(config):
  """The train split's patch index and pool sampler, as crackjax/training/train.py builds them (one process)."""
  from crackjax.data import input_pipeline  # noqa: PLC0415
  from crackjax.data import patch_index  # noqa: PLC0415
  from crackjax.data import sources  # noqa: PLC0415
  d = config.data
  builder = sources.get_builder(d)
  index = patch_index.load_or_build(sources.split_source(builder, "train", decode_images=False),
                                builder.data_dir, "train", d.patch_size, d.patch_stride, d.min_crack_pixels)
  sampler = input_pipeline.PoolSampler(None, index, patch_size=d.patch_size, global_batch=config.batch_size,
                                 seed=config.seed, augment=d.augment, brightness=d.brightness,
                                 contrast=d.contrast, images=sources.crop_source(builder, "train", d))
  return index, sampler


def child_pipeline(config_path: str, overrides: list[str], workers: int, steps: int) -> dict:
  from absl import flags  # noqa: PLC0415
  flags.FLAGS.mark_as_parsed()
  from crackjax.data import input_pipeline  # noqa: PLC0415
  config = _load_config(config_path, overrides)
  _, sampler = _train_sampler(config)
  it = iter(input_pipeline.train_dataset(sampler, steps + 10, workers))
  for _ in range(10):                                        # warm-up: workers started, caches filled
    next(it)
  t = time.time()
  for _ in range(steps):
    next(it)
  dt = time.time() - t
  if hasattr(it, "close"):
    it.close()
  return {"workers": workers, "pools_per_s": steps / dt,
          "patches_per_s": 2 * config.batch_size * steps / dt}


def _train_setup(config, index):
  import jax  # noqa: PLC0415

  from crackjax import models  # noqa: PLC0415
  from crackjax.balance import methods  # noqa: PLC0415
  from crackjax.training import parallel  # noqa: PLC0415
  from crackjax.training import state as state_lib  # noqa: PLC0415
  from crackjax.training import step as step_lib  # noqa: PLC0415
  del jax
  mesh = parallel.make_mesh()
  data_sharding, repl = parallel.batch_sharding(mesh), parallel.replicated(mesh)
  model = models.get_model(config.model)
  tx = state_lib.make_optimizer(config.optimizer, config.total_steps)
  balance0 = methods.initial_balance(config.balance, index.natural_pos_rate, index.pixel_pos_fraction)
  state = state_lib.create(model, tx, config.seed, config.data.patch_size, balance0, repl)
  return state, step_lib.make_train_step(config, repl, data_sharding), data_sharding


def child_train(config_path: str, overrides: list[str], steps: int, with_pipeline: bool) -> dict:
  from absl import flags  # noqa: PLC0415
  flags.FLAGS.mark_as_parsed()
  import jax  # noqa: PLC0415

  from crackjax.data import input_pipeline  # noqa: PLC0415
  from crackjax.training import parallel  # noqa: PLC0415
  config = _load_config(config_path, overrides)
  index, sampler = _train_sampler(config)
  d = config.data
  state, train_step, sharding = _train_setup(config, index)
  warm = 5
  if not with_pipeline:
    batch = parallel.to_global(sampler(0), sharding)
    for _ in range(warm):
      state, metrics = train_step(state, batch)
    jax.block_until_ready(metrics)
    t = time.time()
    for _ in range(steps):
      state, metrics = train_step(state, batch)
    jax.block_until_ready(metrics)
    return {"train_steps_per_s": steps / (time.time() - t)}
  it = iter(input_pipeline.train_dataset(sampler, steps + warm, d.num_workers))
  for _ in range(warm):
    state, metrics = train_step(state, parallel.to_global(next(it), sharding))
  jax.block_until_ready(metrics)
  waited, t = 0.0, time.time()
  for _ in range(steps):
    t0 = time.time()
    pool = next(it)
    waited += time.time() - t0
    state, metrics = train_step(state, parallel.to_global(pool, sharding))
    metrics["loss"].block_until_ready()     # as the trainer's host loop would, one step at a time
  dt = time.time() - t
  if hasattr(it, "close"):
    it.close()
  return {"steps_per_s_with_pipeline": steps / dt, "waiting_for_data_fraction": waited / dt,
          "workers": d.num_workers}


def race(config_path: str, tfds_dir: str, overrides: list[str], steps: int) -> None:
  overrides = [f"data.tfds_dir={tfds_dir}", *overrides]
  config = _load_config(config_path, overrides)
  print(json.dumps({"config": config_path, "overrides": overrides, "batch": config.batch_size,
                    "patch": config.data.patch_size, "workers": config.data.num_workers}), flush=True)
  train = _child(["_train", config_path, json.dumps(overrides), str(steps), "0"])
  print(json.dumps(train), flush=True)
  for workers in sorted({0, config.data.num_workers}):
    pipe = _child(["_pipeline", config_path, json.dumps(overrides), str(workers), str(steps)])
    pipe["ratio_to_train_step"] = pipe["pools_per_s"] / train["train_steps_per_s"]
    print(json.dumps(pipe), flush=True)
  both = _child(["_train", config_path, json.dumps(overrides), str(steps), "1"])
  print(json.dumps(both), flush=True)


def main(argv: list[str]) -> None:
  if argv and argv[0].startswith("_"):
    cmd, rest = argv[0], argv[1:]
    if cmd == "_prepare":
      out = child_prepare(rest[0], rest[1], int(rest[2]))
    elif cmd == "_build":
      out = child_build(rest[0], rest[1], int(rest[2]), rest[3])
    elif cmd == "_stream":
      out = child_stream(rest[0], rest[1], int(rest[2]), int(rest[3]), rest[4], int(rest[5]),
                         int(rest[6]), int(rest[7]), int(rest[8]))
    elif cmd == "_pipeline":
      out = child_pipeline(rest[0], json.loads(rest[1]), int(rest[2]), int(rest[3]))
    elif cmd == "_train":
      out = child_train(rest[0], json.loads(rest[1]), int(rest[2]), rest[3] == "1")
    else:
      raise SystemExit(f"unknown child command {cmd}")
    print(json.dumps(out))
    return
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = p.add_subparsers(dest="cmd", required=True)
  m = sub.add_parser("make-data")
  m.add_argument("--out", required=True)
  m.add_argument("--count", type=int, default=200)
  m.add_argument("--distinct", type=int, default=8)
  m.add_argument("--size", type=int, default=4096)
  g = sub.add_parser("large")
  g.add_argument("--data", required=True)
  g.add_argument("--tfds-dir", required=True)
  g.add_argument("--counts", default="50,100,200")
  g.add_argument("--patch", type=int, default=512)
  g.add_argument("--steps", type=int, default=12)
  g.add_argument("--batch", type=int, default=8, help="global batch: a pool holds 2x this many patches")
  g.add_argument("--tiles", default="0,256:png,256:raw",
                 help="comma-separated: 0 crops whole decoded images; T:codec a tile store of T px tiles")
  g.add_argument("--no-prepare", action="store_true", help="skip the preparation measurement")
  g.add_argument("--cache-images", type=int, default=32)
  g.add_argument("--tile-cache-mb", type=int, default=256)
  r = sub.add_parser("race")
  r.add_argument("--config", required=True)
  r.add_argument("--tfds-dir", required=True)
  r.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
  r.add_argument("--steps", type=int, default=100)
  a = p.parse_args(argv)
  if a.cmd == "make-data":
    make_data(a.out, a.count, a.distinct, a.size)
  elif a.cmd == "large":
    large(a.data, a.tfds_dir, [int(v) for v in a.counts.split(",")], a.patch, a.steps, a.batch,
          a.tiles.split(","), a.cache_images, a.tile_cache_mb, not a.no_prepare)
  else:
    race(a.config, a.tfds_dir, a.set, a.steps)


if __name__ == "__main__":
  main(sys.argv[1:])

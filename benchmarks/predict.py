r"""Speed, peak memory and seam-freeness of `python -m crackjax.predict` (docs/inference.md has the numbers).

    # Speed and peak RSS on 4096x4096 and 8000x6000 images (configs/default.py's U-Net):
    flock /tmp/crackjax_timing.lock python benchmarks/predict.py speed --dir /tmp/crackjax_bench_predict

    # Tiled vs whole-image inference for several tile settings (the same model):
    python benchmarks/predict.py seams --dir /tmp/crackjax_bench_predict

    # Megapixels/s of sliding-window inference, crackjax vs the same U-Net in PyTorch (pip install
    # torch==2.13.0), same tiles and stitching, interleaved rounds:
    flock /tmp/crackjax_timing.lock python benchmarks/predict.py vs-torch --sizes 4096x4096

    # Megapixels/s of the shipped model through crackjax.predict's window, the Python API
    # (crackjax.load(NAME).predict) and its ONNX export in onnxruntime (CPU), interleaved rounds:
    flock /tmp/crackjax_timing.lock python benchmarks/predict.py api --model unet_crack500 --sizes 4096x4096

Without `--workdir`, both train (once, a few CPU-minutes) the U-Net of configs/default.py (its
model.base_channels and model.depth) for 200 steps on configs/smoke.py's data with 128-px
patches: test F1 about 0.5, so its masks look like cracks (the crack measurements' cost depends on
the mask; the model's speed does not depend on the weights).

speed:
1. The trained workdir (above, or `--workdir`).
2. Synthetic road images of each `--sizes` (crackjax.data.synthetic) are written as PNG under `--dir`,
   each in its own folder beside a 512x512 warm-up image, so the big image's time excludes compiling.
3. For each size, `python -m crackjax.predict` runs in a child process (with and without the crack
   measurements); its peak RSS is `ru_maxrss` of that child (os.wait4), the megapixels/s are read from
   the image's JSON (tiling + model + stitching, no I/O), and the phase times likewise.

seams: with the same workdir, a synthetic 1400x1000 image predicted whole
(mirror-padded to multiples of 32, as the evaluation does) and with tiles; reports, against the
whole-image map, the largest and 99.9th-percentile probability difference and the mask pixels that
flip at 0.5, for aligned tile grids (what predict uses) and one unaligned grid.

vs-torch: one random `--sizes` image through `crackjax.inference.sliding_window.predict_image` (512-px tiles, 128 px
overlap, 4 tiles per batch: tiling, model, blending and thresholding) with the predict function either
crackjax's jitted one or the PyTorch U-Net of benchmarks/torch_unet.py (eval mode, `torch.inference_mode`,
NCHW and channels_last), both randomly initialised (speed does not depend on the weights). After one
warm-up image each, `--rounds` interleaved rounds; megapixels/s from the median round.

api: one synthetic road image of each `--sizes` through (a) `sliding_window.predict_image` with the restored
model (what `python -m crackjax.predict` runs per image: 8-bit map and mask), (b) `crackjax.load(model).predict`
(float32 map), (c) the same window with the model exported to ONNX (`--onnx_tile`, default 512 = the
window's tile) run by onnxruntime on the CPU. One warm-up each, then `--rounds` interleaved rounds;
megapixels/s from the median round; the load average before and after.

Note `uptime` beside the numbers; on a shared machine wrap timings in `flock /tmp/crackjax_timing.lock`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import PIL.Image


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_average() -> str:
  with open("/proc/loadavg") as f:
    return " ".join(f.read().split()[:3])


def _default_model() -> tuple[int, int]:
  """(base_channels, depth) of configs/default.py."""
  spec = importlib.util.spec_from_file_location("default_config", os.path.join(REPO, "configs", "default.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  model = module.get_config().model
  return model.base_channels, model.depth


def _train_default_unet(workdir: str, tfds_dir: str, steps: int, patch_size: int = 64) -> None:
  """configs/default.py's U-Net trained `steps` steps on configs/smoke.py's data (once)."""
  if os.path.exists(os.path.join(workdir, "eval", "final.json")):
    return
  channels, depth = _default_model()
  cmd = [sys.executable, "-m", "crackjax.main", "--config", os.path.join(REPO, "configs", "smoke.py"),
         "--workdir", workdir, f"--config.data.tfds_dir={tfds_dir}", "--config.progress_bar=False",
         f"--config.model.base_channels={channels}", f"--config.model.depth={depth}",
         f"--config.total_steps={steps}",
         f"--config.eval_every={max(steps // 4, 1)}", f"--config.checkpoint_every={max(steps // 4, 1)}",
         f"--config.data.patch_size={patch_size}", f"--config.data.patch_stride={patch_size // 2}"]
  subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)


def _workdir(args) -> str:
  if args.workdir:
    return args.workdir
  workdir = os.path.join(args.dir, "default_unet_200steps")
  _train_default_unet(workdir, os.path.join(args.dir, "tfds"), steps=200, patch_size=128)
  return workdir


def _make_inputs(root: str, height: int, width: int) -> str:
  from crackjax.data import synthetic  # noqa: PLC0415
  folder = os.path.join(root, f"in_{width}x{height}")
  big = os.path.join(folder, f"road_{width}x{height}.png")
  if not os.path.exists(big):
    os.makedirs(folder, exist_ok=True)
    warm, _ = synthetic.generate(0, 1, synthetic.SyntheticSpec(height=512, width=512))
    PIL.Image.fromarray(warm).save(os.path.join(folder, "0_warmup.png"))
    image, _ = synthetic.generate(0, 2, synthetic.SyntheticSpec(height=height, width=width))
    PIL.Image.fromarray(image).save(big + ".tmp.png", compress_level=1)
    os.replace(big + ".tmp.png", big)
  return folder


def _run_predict(args: list[str]) -> tuple[int, float, float, str]:
  """(return code, peak RSS in MiB, wall s, stderr tail) of `python -m crackjax.predict args`."""
  t0 = time.time()
  proc = subprocess.Popen([sys.executable, "-m", "crackjax.predict", *args], cwd=REPO,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  err = proc.stderr.read()
  _, status, usage = os.wait4(proc.pid, 0)
  proc.returncode = os.waitstatus_to_exitcode(status)
  return proc.returncode, usage.ru_maxrss / 1024.0, time.time() - t0, err[-3000:]


def speed(args) -> None:
  from crackjax import config_base  # noqa: PLC0415
  from crackjax.inference import sliding_window  # noqa: PLC0415
  os.makedirs(args.dir, exist_ok=True)
  workdir = _workdir(args)
  results = []
  for size in args.sizes.split(","):
    width, height = (int(v) for v in size.lower().split("x"))
    folder = _make_inputs(args.dir, height, width)
    for quantify in (True, False) if not args.no_quantify_runs else (True,):
      out = os.path.join(args.dir, f"out_{width}x{height}_{'q' if quantify else 'noq'}")
      flags = ["--workdir", workdir, "--input", folder, "--output", out, "--mm_per_pixel=1.0",
               "--noprogress_bar", *([] if quantify else ["--noquantify"]), *args.predict_args.split()]
      load_before = _load_average()
      rc, rss, wall, err = _run_predict(flags)
      if rc != 0:
        raise SystemExit(f"crackjax.predict {' '.join(flags)} failed:\n{err}")
      with open(os.path.join(out, f"road_{width}x{height}.json")) as f:
        rep = json.load(f)
      row = {"size": f"{width}x{height}", "megapixels": width * height / 1e6, "quantify": quantify,
             "tiles": None, "predict_s": rep["seconds"]["predict"],
             "megapixels_per_s": rep["megapixels_per_s"], "quantify_s": rep["seconds"]["quantify"],
             "write_s": rep["seconds"]["write"], "read_s": rep["seconds"]["read"],
             "image_total_s": rep["seconds"]["total"], "process_wall_s": wall,
             "peak_rss_mib": rss, "tiling": rep["tiling"], "load_before": load_before,
             "load_after": _load_average(), "crack_pixels": rep["crack_pixels"]}
      t = rep["tiling"]
      row["tiles"] = len(sliding_window.image_grid(
          height, width, sliding_window.TileSettings(t["tile_size"], t["overlap"], t["margin"],
                                                  t["tile_batch"]),
          config_base.load(workdir).eval.pad_multiple))
      results.append(row)
      print(json.dumps(row), flush=True)

  print("\n| image | measurements | tiles | predict s | megapixels/s | quantify s | write s | "
        "peak RSS MiB | load (1/5/15 min) before |")
  print("|---|---|---|---|---|---|---|---|---|")
  for r in results:
    print(f"| {r['size']} | {'yes' if r['quantify'] else 'no'} | {r['tiles']} | {r['predict_s']:.1f} | "
          f"{r['megapixels_per_s']:.3f} | {r['quantify_s']:.1f} | {r['write_s']:.1f} | "
          f"{r['peak_rss_mib']:.0f} | {r['load_before']} |")


def seams(args) -> None:
  from crackjax.data import synthetic  # noqa: PLC0415
  from crackjax.inference import restored_run  # noqa: PLC0415
  from crackjax.inference import sliding_window  # noqa: PLC0415
  from crackjax.inference import tile_grid  # noqa: PLC0415
  from crackjax.training import parallel  # noqa: PLC0415
  workdir = _workdir(args)
  restored = restored_run.restore(workdir)
  m = restored.config.eval.pad_multiple
  height, width = 1000, 1400
  image, _ = synthetic.generate(0, 5, synthetic.SyntheticSpec(height=height, width=width))
  run = lambda x: np.asarray(restored.predict(
      restored.state, parallel.to_global({"x": x}, restored.batch_sharding)["x"]))
  ph, pw = -(-height // m) * m, -(-width // m) * m
  full = run(np.pad(image, ((0, ph - height), (0, pw - width), (0, 0)), mode="symmetric")[None])[0]
  full = full[:height, :width]
  print(f"workdir {workdir} (checkpoint {restored.step}); image {width}x{height}; whole-image crack "
        f"pixels at 0.5: {int(np.sum(full >= 0.5))}")
  print("| tiles | overlap | margin | grid | max abs diff | 99.9th pct | mask pixels flipped |")
  print("|---|---|---|---|---|---|---|")
  for tile, overlap, margin, align in ((512, 0, 0, m), (512, 64, 8, m), (512, 128, 16, m),
                                       (512, 128, 32, m), (256, 128, 32, m), (512, 128, 32, 1)):
    if align == 1:  # the image's own size, origins anywhere (what predict does not do)
      grid = tile_grid.make_grid(height, width, tile, overlap=overlap, margin=margin)
    else:
      grid = sliding_window.image_grid(height, width, sliding_window.TileSettings(tile, overlap, margin), m)
    outs = np.concatenate([run(tile_grid.tiles(image, grid, a, b))
                           for a, b in tile_grid.iter_batches(len(grid), 1)])
    tiled = tile_grid.stitch(grid, outs)[:height, :width]
    d = np.abs(tiled - full)
    flips = int(np.sum((tiled >= 0.5) != (full >= 0.5)))
    print(f"| {tile} px, {len(grid)} | {overlap} | {margin} | "
          f"{'aligned to ' + str(m) if align > 1 else 'unaligned'} | {d.max():.4f} | "
          f"{np.quantile(d, 0.999):.4f} | {flips} |", flush=True)


def vs_torch(args) -> None:

  import jax  # noqa: PLC0415
  import torch  # noqa: PLC0415

  from crackjax import config_base  # noqa: PLC0415
  from crackjax import models
  from crackjax.balance import methods  # noqa: PLC0415
  from crackjax.inference import sliding_window  # noqa: PLC0415
  from crackjax.training import parallel  # noqa: PLC0415
  from crackjax.training import state as state_lib  # noqa: PLC0415
  from crackjax.training import step as step_lib  # noqa: PLC0415
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from torch_unet import UNet  # noqa: PLC0415

  config = config_base.base()                      # configs/default.py's U-Net: base 16, depth 4
  mesh = parallel.make_mesh()
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  model = models.get_model(config.model)
  state = state_lib.create(model, state_lib.make_optimizer(config.optimizer, 10), 0, 64,
                           methods.initial_balance(config.balance, 0.5, 0.05), repl)
  settings = sliding_window.TileSettings()
  fns = {"crackjax": step_lib.make_predict(repl, data)}
  for name, fmt in (("torch", torch.contiguous_format), ("torch_cl", torch.channels_last)):
    net = UNet(config.model.base_channels, config.model.depth).to(memory_format=fmt).eval()

    def torch_predict(_, tiles, net=net, fmt=fmt):
      x = torch.from_numpy(np.array(tiles)).permute(0, 3, 1, 2).float().div_(255.0)
      with torch.inference_mode():
        return torch.sigmoid(net(x.contiguous(memory_format=fmt)))[:, 0].numpy()

    fns[name] = torch_predict
  print(f"{os.cpu_count()} cores; jax {jax.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); load average {os.getloadavg()[0]:.2f}", flush=True)
  _race_sizes(args.sizes, lambda h, w: np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8),
              {name: (lambda im, fn=fn: sliding_window.predict_image(
                  fn, state, data, im, threshold=0.5, settings=settings, multiple=config.eval.pad_multiple))
               for name, fn in fns.items()}, args.rounds, digits=2)
  print(f"load average after: {os.getloadavg()[0]:.2f}")


def _race_sizes(sizes: str, make_image, contenders: dict, rounds: int, digits: int) -> None:
  """`_race` on an image of each of `sizes` ("WxH,..."; `make_image(h, w)`), under one table header."""
  print("| image | contender | megapixels/s (median) | min - max | s per image |")
  print("|---|---|---:|---:|---:|")
  for size in sizes.split(","):
    w, h = (int(v) for v in size.split("x"))
    _race(contenders, make_image(h, w), rounds, digits)


def _race(contenders: dict, image: np.ndarray, rounds: int, digits: int) -> None:
  """One warm-up per contender (`image -> anything`), then `rounds` interleaved timed rounds; prints a
  table row per contender: megapixels/s of the median round, range, seconds per image."""
  import statistics  # noqa: PLC0415
  for fn in contenders.values():
    fn(image)                                        # warm-up (compiles the jitted predict)
  times = {name: [] for name in contenders}
  for _ in range(rounds):
    for name, fn in contenders.items():
      t = time.perf_counter()
      fn(image)
      times[name].append(time.perf_counter() - t)
  h, w = image.shape[:2]
  mp = h * w / 1e6
  for name, ts in times.items():
    med = statistics.median(ts)
    print(f"| {w}x{h} | {name} | {mp / med:.{digits}f} | {mp / max(ts):.{digits}f} - {mp / min(ts):.{digits}f} "
          f"| {med:.1f} |", flush=True)


def api(args) -> None:
  import onnxruntime  # noqa: PLC0415

  import crackjax  # noqa: PLC0415
  from crackjax import pretrained  # noqa: PLC0415
  from crackjax.data import synthetic  # noqa: PLC0415
  from crackjax.inference import exporters  # noqa: PLC0415
  from crackjax.inference import restored_run  # noqa: PLC0415
  from crackjax.inference import sliding_window  # noqa: PLC0415

  source = pretrained.resolve(args.model) if args.model else _workdir(args)
  restored = restored_run.restore(source)
  model = crackjax.load(source)
  settings = sliding_window.TileSettings()
  session = onnxruntime.InferenceSession(exporters.to_onnx(restored, args.onnx_tile),
                                         providers=["CPUExecutionProvider"])
  onnx_predict = lambda _, tiles: session.run(None, {"images": np.asarray(tiles)})[0]
  m = restored.config.eval.pad_multiple
  contenders = {
      "crackjax.predict window (uint8 map + mask)": lambda image: sliding_window.predict_image(
          restored.predict, restored.state, restored.batch_sharding, image, threshold=0.5,
          settings=settings, multiple=m),
      "crackjax.load(...).predict (float32 map)": model.predict,
      f"ONNX in onnxruntime {onnxruntime.__version__}, same window": lambda image: sliding_window.predict_image(
          onnx_predict, None, restored.batch_sharding, image, threshold=0.5,
          settings=sliding_window.TileSettings(tile_size=args.onnx_tile), multiple=m),
  }
  print(f"model {args.model or source} (checkpoint {restored.step}); {os.cpu_count()} cores; load average "
        f"before {_load_average()}", flush=True)
  _race_sizes(args.sizes, lambda h, w: synthetic.generate(0, 2, synthetic.SyntheticSpec(height=h, width=w))[0],
              contenders, args.rounds, digits=3)
  print(f"load average after: {_load_average()}")


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("mode", choices=("speed", "seams", "vs-torch", "api"))
  p.add_argument("--dir", default="/tmp/crackjax_bench_predict", help="Work folder (images, outputs).")
  p.add_argument("--workdir", default=None, help="A trained crackjax workdir (default: train one).")
  p.add_argument("--sizes", default="4096x4096,8000x6000", help="speed: WIDTHxHEIGHT,...")
  p.add_argument("--predict_args", default="", help="speed: extra flags for crackjax.predict, e.g. "
                 "'--tile_size=1024 --tile_batch=2'.")
  p.add_argument("--no_quantify_runs", action="store_true", help="speed: skip the runs without "
                 "measurements.")
  p.add_argument("--rounds", type=int, default=3, help="vs-torch, api: timed rounds per contender")
  p.add_argument("--model", default=None, help="api: a shipped model's name (default: --workdir or train one)")
  p.add_argument("--onnx_tile", type=int, default=512, help="api: the ONNX export's tile size")
  args = p.parse_args()
  {"speed": speed, "seams": seams, "vs-torch": vs_torch, "api": api}[args.mode](args)


if __name__ == "__main__":
  main()

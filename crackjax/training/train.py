"""The training loop: read this file top to bottom to follow one run.

    config checked (config_check.validate) -> workdir claimed (one trainer per workdir)
    -> data (tfds builder -> patch index -> Grain pool stream) -> config.json, data.json
    -> jitted train_step (state incl. balance)
    -> host loop: metrics.jsonl / TensorBoard / log lines and progress bar, validation, orbax checkpoints
    -> at the end: the best checkpoint (by val/f1) evaluated on the test split -> eval/final.json,
       report.html, TensorBoard hparams

All side effects live here; the step, losses, balance update and metrics are pure functions.

Faults (docs/reliability.md): nothing is written before the whole config is checked and the workdir
is claimed; config.json is written only once the run can start. Every step reports in-graph whether
its loss and gradients are finite; the host reads these flags where it syncs anyway (at log steps,
validations and before every checkpoint save), so a non-finite state is never saved and the run stops
naming the first bad step. A full disk fails the write that meets it, naming the path; a failed
background checkpoint save is noticed at the next step. On every exit path the in-flight save is
finished (or its error logged) and the data workers are closed. SIGTERM (a preemption, a scheduler's
stop) or Ctrl-C ends the loop at the next step boundary with a checkpoint of that step
(training/preemption.py).
"""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np
import tqdm
from absl import logging

from crackjax import config_base
from crackjax import config_check
from crackjax import errors
from crackjax import json_file
from crackjax import models
from crackjax.balance import methods
from crackjax.balance import prf
from crackjax.data import input_pipeline
from crackjax.data import patch_index
from crackjax.data import sources
from crackjax.evaluation import confusion
from crackjax.evaluation import full_images
from crackjax.models import convert_weights
from crackjax.report import html_report
from crackjax.report import plots
from crackjax.training import checkpoints
from crackjax.training import hparams
from crackjax.training import metric_writer
from crackjax.training import parallel
from crackjax.training import preemption
from crackjax.training import progress_log
from crackjax.training import state as state_lib
from crackjax.training import step as step_lib
from crackjax.training import workdir as workdir_lib


def _is_due(step: int, every: int, total: int) -> bool:
  return step == total or (every > 0 and step % every == 0)


def _final_path(workdir: str) -> str:
  return os.path.join(workdir, "eval", "final.json")


class NonFiniteError(errors.UserError):
  """The loss or the gradients of a step were NaN or infinite; nothing after it was saved."""


def _train_metrics(pending: list[dict]) -> dict:
  """Host-side reduction of the per-step metrics since the last log (one device->host transfer)."""
  fetched = jax.device_get(pending)
  counts = {k: float(sum(m[k] for m in fetched)) for k in ("tp", "fp", "fn")}
  out = {f"train/{k}": v for k, v in confusion.scores(counts).items()}
  out.update({f"train/{k}": v for k, v in counts.items()})   # pixel counts (0/0 F1 shows as "-")
  out["train/loss"] = float(np.mean([m["loss"] for m in fetched]))
  out["train/grad_norm"] = float(np.mean([m["grad_norm"] for m in fetched]))
  out["train/pos_patch_fraction"] = (sum(float(m["pos_taken"]) for m in fetched)
                                     / sum(float(m["patches"]) for m in fetched))
  return out


def _first_non_finite(flags: list[tuple[int, jax.Array]]) -> int | None:
  """The first step among `(step, finite flag)` whose flag is 0 (one device->host transfer)."""
  fetched = jax.device_get([f for _, f in flags])
  return next((step for (step, _), ok in zip(flags, fetched) if not ok), None)


def _balance_metrics(bal: prf.BalanceState) -> dict:
  bal = jax.device_get(bal)
  return {"balance/precision": bal.precision, "balance/recall": bal.recall, "balance/prf": bal.prf,
          "balance/pos_weight": np.exp(bal.log_pos_weight),
          "balance/neg_weight": np.exp(bal.log_neg_weight),
          "balance/pos_rate": 1.0 / (1.0 + np.exp(-bal.pos_logit)),
          "balance/drive": bal.drive, "balance/step_scale": bal.step_scale,
          "data/pos_fraction": bal.pos_fraction, "data/expected_pos_fraction": bal.expected_fraction}


def _prepare_data(d) -> tuple:
  """The prepared tfds builder of `config.data` and its train split's patch index (both cached on disk)."""
  builder = sources.get_builder(d)
  index = patch_index.load_or_build(
      sources.split_source(builder, "train", decode_images=False), builder.data_dir, "train",
      d.patch_size, d.patch_stride, d.min_crack_pixels)
  return builder, index


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming if it holds a checkpoint); returns the final test metrics."""
  config_check.validate(config)                      # before anything is written
  workdir = os.path.abspath(workdir)
  with workdir_lib.claim(workdir, lock=parallel.is_main_process()):
    return _train_and_evaluate(config, workdir)


def _train_and_evaluate(config, workdir: str) -> dict:
  final_path = _final_path(workdir)
  config_base.check_resumable(config, workdir)
  parallel.check_shared_directory(workdir)
  if os.path.exists(final_path):
    with open(final_path) as f:
      final = json.load(f)
    if final.get("total_steps") == config.total_steps:
      logging.info("Run in %s is complete (%d steps); final test metrics in %s. Nothing to do.",
                   workdir, config.total_steps, final_path)
      return final

  # Devices.
  mesh = parallel.make_mesh()
  data_sharding, repl = parallel.batch_sharding(mesh), parallel.replicated(mesh)
  logging.info("%d devices (%d processes), global batch %d", jax.device_count(),
               jax.process_count(), config.batch_size)

  # Data: prepared tfds dataset, patch index of the train split, the stream of patch pools.
  # Process 0 prepares first; the others then reuse its files on a shared filesystem.
  d = config.data
  builder, index = parallel.process_0_first(lambda: _prepare_data(d), "prepare_data")
  config_check.check_splits(config, builder.info.splits)
  data_id = sources.identity(builder)
  ckpt_dir = os.path.join(workdir, "checkpoints")
  _check_same_data(workdir, data_id, resuming=checkpoints.has_checkpoint(ckpt_dir))
  logging.info("Data: %s/%s%s", data_id["dataset"], data_id["builder_config"],
               f" (content fingerprint {data_id['fingerprint']})" if "fingerprint" in data_id else "")
  logging.info("train patches: %d positive, %d negative (natural positive rate %.4f); crack pixels %.4f%%",
               len(index.pos), len(index.neg), index.natural_pos_rate, 100 * index.pixel_pos_fraction)
  sampler = input_pipeline.PoolSampler(
      sources.split_source(builder, "train"), index, patch_size=d.patch_size,
      global_batch=config.batch_size, seed=config.seed, augment=d.augment, brightness=d.brightness,
      contrast=d.contrast, process_index=jax.process_index(), process_count=jax.process_count(),
      cache_images=d.cache_images,
      images=parallel.process_0_first(lambda: sources.crop_source(builder, "train", d), "crop_source"))

  # Model, optimizer and the train state (balance state initialised from the data's statistics).
  model = models.get_model(config.model)
  tx = state_lib.make_optimizer(config.optimizer, config.total_steps)
  balance0 = methods.initial_balance(config.balance, index.natural_pos_rate, index.pixel_pos_fraction)
  state = state_lib.create(model, tx, config.seed, d.patch_size, balance0, repl)

  # The run can start: its config and data are recorded (once; a resumed run matches both).
  if parallel.is_main_process():
    config_base.save(config, workdir)
    if not os.path.exists(_data_path(workdir)):
      json_file.write(_data_path(workdir), data_id)

  signals_held = input_pipeline.StopSignalsHeldFromWorkers(d.num_workers)   # until the workers started
  train_iter = ckpt = None
  try:
    train_iter = iter(input_pipeline.train_dataset(sampler, config.total_steps, d.num_workers))
    # Resume from the latest checkpoint, if any.
    ckpt = checkpoints.Checkpointer(ckpt_dir, config.keep_checkpoints)
    start = ckpt.latest_step() or 0
    if start:
      state = ckpt.restore(start, state, train_iter)
      logging.info("Resuming from the checkpoint at step %d in %s.", start, ckpt.directory)
    elif config.model.pretrained_path:   # a fresh run: backbone weights from the user's file
      state = convert_weights.load_pretrained(state, config.model, repl)
      logging.info("Backbone weights loaded from %s.", config.model.pretrained_path)
    writer = metric_writer.MetricWriter(workdir, resume_step=start)

    train_step = step_lib.make_train_step(config, repl, data_sharding)
    predict = step_lib.make_predict(repl, data_sharding)
    val_source = sources.split_source(builder, "val") if "val" in builder.info.splits else None

    balance_update = (step_lib.make_balance_update(config, repl) if config.balance.measure == "val"
                      else None)

    def evaluate(split_source, state_):
      return full_images.evaluate_split(predict, state_, split_source, batch_size=config.eval.batch_size,
                                       pad_multiple=config.eval.pad_multiple, sharding=data_sharding,
                                       threshold=config.eval.threshold)

    with preemption.StopRequest(ckpt.manager) as stop:
      state, stopped_after = _train_loop(config, state, start, train_iter, train_step, ckpt, writer,
                                         evaluate, val_source, data_sharding, stop, balance_update,
                                         workers_started=signals_held.release)
  except BaseException:
    if ckpt is not None:
      ckpt.finish_quietly()          # a save in flight completes (or its error is logged)
    raise
  finally:
    signals_held.release()
    if train_iter is not None:
      input_pipeline.close_stream(train_iter)   # frees the workers' shared memory now, not at exit
  if stopped_after is not None:      # raised here, once the loop's frame (holding a batch) is gone
    writer.close()
    ckpt.close()
    raise errors.Stopped(f"stopped on {stop.describe()} after step {stopped_after} of {config.total_steps}; "
                         f"its checkpoint is saved in {ckpt.directory}: run the same command to resume",
                         exit_code=stop.exit_code())

  # Final: the best checkpoint by val/f1 (the latest if there is no val split) on the test split
  # (on the val split with eval.final_split="val", so that tuning never touches the test split).
  best = ckpt.best_step()
  state = ckpt.restore(best, state)
  # The full metric set (crackjax/evaluation/crack_metrics.py), shared with `python -m crackjax.evaluate`.
  split = config.eval.final_split
  accumulator = full_images.new_accumulator(config.eval.threshold, strict=False)
  scores = full_images.evaluate_split(
      predict, state, sources.split_source(builder, split), batch_size=config.eval.batch_size,
      pad_multiple=config.eval.pad_multiple, sharding=data_sharding, threshold=config.eval.threshold,
      accumulator=accumulator)
  final = {**scores, "split": split, "checkpoint_step": best, "total_steps": config.total_steps,
           "selected_by": "val/f1" if val_source is not None else "latest",
           "data": {k: v for k, v in data_id.items() if k != "files"}}
  prefix = "test" if split == "test" else "final_val"   # val/* already holds the periodic evaluations
  writer.write(config.total_steps, {f"{prefix}/{k}": scores[k] for k in ("precision", "recall", "f1", "iou")})
  writer.close()
  if jax.process_index() == 0:
    plots.prf_trajectory(metric_writer.read(workdir), os.path.join(workdir, "prf_trajectory.png"),
                         title=f"{config.balance.method} on {config.data.name}")
  # A few images of the final split for the report (every process takes part in the sharded predict).
  examples = html_report.test_examples(predict, state, data_sharding, sources.split_source(builder, split),
                                       config, n=4)
  if jax.process_index() == 0:
    json_file.write(final_path, final)
    hparams.write(workdir, config, final)
    html_report.write_training_report(workdir, config, final, metric_writer.read(workdir), examples=examples,
                                      pr_curve=accumulator.pr_curve() if accumulator else None)
  ckpt.close()
  logging.info("%s split (checkpoint %d): %s", split, best, json.dumps(
      {k: round(final[k], 4) for k in ("precision", "recall", "f1", "iou")}))
  return final


def _data_path(workdir: str) -> str:
  return os.path.join(workdir, "data.json")


def _check_same_data(workdir: str, data_id: dict, resuming: bool) -> None:
  """A resumed run must train on the data it started with (`workdir/data.json`); a run without a
  checkpoint yet starts afresh on whatever the data now are."""
  path = _data_path(workdir)
  if not os.path.exists(path):
    return
  if not resuming:
    if parallel.is_main_process():
      os.remove(path)
    return
  with open(path) as f:
    saved = json.load(f)
  changes = sources.identity_changes(saved, data_id)
  if changes:
    raise errors.UserError(
        f"the data of the run in {workdir} changed since it started ({'; '.join(changes)}), so its "
        f"checkpoints cannot be resumed on them: restore the data the run started with ({path} "
        f"records them), or start afresh with a new --workdir.")


def _train_loop(config, state, start, train_iter, train_step, ckpt, writer, evaluate, val_source,
                data_sharding, stop, balance_update=None, workers_started=lambda: None):
  """Steps `start + 1 .. total_steps`: log, validate and checkpoint when due; `workers_started()` is
  called once the first batch is in (the data workers' threads exist).

  Returns the last state and None, or, when `stop` (preemption.StopRequest) was requested, the state
  and the step it stopped after, once that step's checkpoint is saved.

  The host reads the per-step finiteness flags only where it waits for the device anyway: at log
  steps (it fetches the metrics), validations, and before every save (orbax copies the state to host).
  """
  progress = tqdm.tqdm(total=config.total_steps, initial=start, unit="step", dynamic_ncols=True,
                       disable=not config.progress_bar or jax.process_index() != 0)
  log = progress_log.ProgressLog(config.total_steps, start, progress, enabled=jax.process_index() == 0)
  pending, unchecked, t_log = [], [], time.time()

  def check_finite():
    bad = _first_non_finite(unchecked) if unchecked else None
    unchecked.clear()
    if bad is not None:
      ckpt.finish_quietly()              # the last (finite, checked) save completes first
      latest = ckpt.latest_step()
      last_good = (f"the last good checkpoint is step {latest} in {ckpt.directory}" if latest else
                   "no checkpoint was saved")
      raise NonFiniteError(
          f"training diverged: the loss or the gradients are not finite (NaN or inf) at step {bad}, the "
          f"first such step; nothing after it was saved and {last_good}. Lower "
          f"--config.optimizer.learning_rate (or check the data) and start afresh in a new --workdir; "
          f"metrics.jsonl holds the steps before it.")

  for step in range(start + 1, config.total_steps + 1):
    batch = parallel.to_global(next(train_iter), data_sharding)
    if step == start + 1:
      workers_started()
    state, step_metrics = train_step(state, batch)
    pending.append(step_metrics)
    unchecked.append((step, step_metrics["finite"]))
    progress.update(1)
    ckpt.raise_if_save_failed()

    scalars = {}
    if _is_due(step, config.log_every, config.total_steps):
      check_finite()
      scalars.update(_train_metrics(pending))
      scalars["train/steps_per_s"] = len(pending) / (time.time() - t_log)
      log.train(step, scalars)
      pending, t_log = [], time.time()
    if step % config.balance.interval == 0:
      scalars.update(_balance_metrics(state.balance))
    val = None
    if val_source is not None and _is_due(step, config.eval_every, config.total_steps):
      check_finite()
      val = evaluate(val_source, state)
      scalars.update({f"val/{k}": val[k] for k in ("precision", "recall", "f1", "iou")})
      if balance_update is not None:   # balance.measure='val': the controller moves on these counts
        state = balance_update(state, *(np.float32(val[k]) for k in ("tp", "fp", "fn")))
        scalars.update(_balance_metrics(state.balance))
      log.val(step, val)
      t_log = time.time()
    bad_metrics = writer.write(step, scalars)
    if bad_metrics:                      # NaN in the balance state or validation: find the step first
      check_finite()
      raise NonFiniteError(f"non-finite metrics {bad_metrics} at step {step} (see {writer.path}); the "
                           f"last checkpoint is step {ckpt.latest_step()} in {ckpt.directory}.")
    stopping = step < config.total_steps and stop.requested(step)
    if stopping:
      logging.info("%s: saving step %d, then stopping (the same signal again stops at once)",
                   stop.describe(), step)
    if val is not None or stopping or _is_due(step, config.checkpoint_every, config.total_steps):
      check_finite()
      ckpt.save(step, state, train_iter, metrics={"val/f1": val["f1"]} if val else None)
    if stopping:
      ckpt.wait()
      progress.close()
      return state, step
  progress.close()
  ckpt.wait()
  return state, None

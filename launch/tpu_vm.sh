#!/usr/bin/env bash
# Cloud TPU VM (single host or pod slice): create it, copy this checkout to every worker, install,
# train on all workers at once, follow the log, delete it. One gcloud command per step.
#
#   launch/tpu_vm.sh [--dry-run] COMMAND [ARGS]
#
#   create                          gcloud compute tpus tpu-vm create (TPU_TYPE, TPU_VERSION)
#   copy                            this checkout (tracked and untracked, not ignored files) to
#                                   ~/crackjax on every worker
#   install                         Python 3.12 venv ~/crackjax/.venv with crackjax and jax[tpu] on
#                                   every worker (uv fetches the interpreter: the image has 3.10)
#   check                           every worker joins the JAX runtime and prints its devices
#   run CONFIG WORKDIR [overrides]  train on all workers (--worker=all) in the background;
#                                   log in ~/crackjax/train.log on each worker
#   logs [WORKER]                   follow a worker's training log (default worker 0, which writes
#                                   metrics.jsonl, TensorBoard files and eval/final.json)
#   stop                            stop the training processes started by `run`
#   delete                          delete the TPU VM
#
# Environment: TPU_ZONE (required), TPU_NAME (default crackjax), TPU_TYPE (default v4-16: two hosts of
# four chips), TPU_VERSION (default tpu-ubuntu2204-base), TPU_PROJECT (default: gcloud's), TPU_SPOT=1
# for a spot VM.
# --dry-run prints each command instead of running it.
#
# On a pod slice (more than one worker) WORKDIR must be one directory every worker sees at the same
# path (e.g. an NFS/Filestore mount): orbax writes one checkpoint from all hosts, and the run stops
# at start with an error naming WORKDIR if it is not shared. A single-host TPU VM may use any path.
set -euo pipefail

dry_run=0
if [[ "${1:-}" == "--dry-run" ]]; then
  dry_run=1
  shift
fi
usage() {
  sed -n '5,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
command="$1"
shift

name="${TPU_NAME:-crackjax}"
type="${TPU_TYPE:-v4-16}"
version="${TPU_VERSION:-tpu-ubuntu2204-base}"
if [[ -z "${TPU_ZONE:-}" ]]; then
  echo "error: set TPU_ZONE to the zone of the TPU VM (e.g. TPU_ZONE=us-central2-b for v4)" >&2
  exit 2
fi
where=(--zone="$TPU_ZONE")
if [[ -n "${TPU_PROJECT:-}" ]]; then where+=(--project="$TPU_PROJECT"); fi
# shellcheck disable=SC2088  # the tilde is meant for the worker's shell, not this one
remote_dir='~/crackjax'
tarball="/tmp/crackjax-$name.tar.gz"

# Prints a command (shell-quoted where needed) or runs it.
run() {
  if ((dry_run)); then
    local out=() word
    for word in "$@"; do
      if [[ "$word" =~ ^[][A-Za-z0-9_./:=,@+%^-]+$ ]]; then out+=("$word"); else out+=("${word@Q}"); fi
    done
    echo "${out[*]}"
  else
    "$@"
  fi
}
on_workers() {  # on_workers WORKERS COMMAND_STRING
  run gcloud compute tpus tpu-vm ssh "$name" "${where[@]}" --worker="$1" --command "$2"
}
quote_args() {
  local out=() word
  for word in "$@"; do out+=("$(printf '%q' "$word")"); done
  echo "${out[*]}"
}

case "$command" in
  create)
    spot=()
    if [[ "${TPU_SPOT:-0}" == 1 ]]; then spot=(--spot); fi
    run gcloud compute tpus tpu-vm create "$name" "${where[@]}" --accelerator-type="$type" \
      --version="$version" "${spot[@]}"
    ;;
  copy)
    repo="$(cd "$(dirname "$0")/.." && pwd)"
    if ((dry_run)); then
      echo "git -C $repo ls-files -z --cached --others --exclude-standard | tar -C $repo --null -T - --ignore-failed-read -czf $tarball"
    else
      git -C "$repo" ls-files -z --cached --others --exclude-standard \
        | tar -C "$repo" --null -T - --ignore-failed-read -czf "$tarball"
    fi
    run gcloud compute tpus tpu-vm scp "$tarball" "$name":crackjax.tar.gz "${where[@]}" --worker=all
    on_workers all "mkdir -p $remote_dir && tar -xzf ~/crackjax.tar.gz -C $remote_dir && rm ~/crackjax.tar.gz"
    ;;
  install)
    on_workers all "set -e; cd $remote_dir; python3 -m pip install --user --quiet --upgrade uv; \
~/.local/bin/uv venv --python 3.12 .venv; \
~/.local/bin/uv pip install --python .venv/bin/python -e . 'jax[tpu]>=0.12.0.1,<0.13'"
    ;;
  check)
    on_workers all "cd $remote_dir && CRACKJAX_DISTRIBUTED=1 .venv/bin/python -c \
'from crackjax import parallel; import jax; parallel.maybe_initialize_distributed(); \
print(f\"process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} local of {jax.device_count()} devices\")'"
    ;;
  run)
    if [[ $# -lt 2 ]]; then
      echo "error: run needs CONFIG and WORKDIR, e.g. run configs/default.py /mnt/shared/crackjax_default" >&2
      exit 2
    fi
    args="$(quote_args --config "$1" --workdir "$2" --config.progress_bar=False "${@:3}")"
    on_workers all "cd $remote_dir && CRACKJAX_DISTRIBUTED=1 setsid nohup .venv/bin/python -m crackjax.main \
$args > train.log 2>&1 < /dev/null & echo \$! > train.pid"
    ;;
  logs)
    on_workers "${1:-0}" "tail -n 200 -f $remote_dir/train.log"
    ;;
  stop)
    on_workers all "kill \$(cat $remote_dir/train.pid) || true"
    ;;
  delete)
    run gcloud compute tpus tpu-vm delete "$name" "${where[@]}" --quiet
    ;;
  *)
    echo "error: unknown command '$command'" >&2
    usage
    ;;
esac

#!/usr/bin/env bash
# Runs N training processes on this machine through the multi-host code path: each process joins the
# JAX distributed runtime (coordinator on 127.0.0.1) with its own CPU devices, loads its own slice of
# every batch, and they train one model together, exactly as the hosts of a TPU pod or GPU cluster do.
#
#   launch/local_multiprocess.sh [--dry-run] N CONFIG WORKDIR [--config.key=value ...]
#
#   XLA_FLAGS=--xla_force_host_platform_device_count=2 \
#     launch/local_multiprocess.sh 2 configs/smoke.py /tmp/crackjax_mp
#
# Fake CPU devices per process come from XLA_FLAGS (--xla_force_host_platform_device_count; 1 if
# unset). Process 0 prints to this terminal; process i logs to WORKDIR/logs/process_<i>.log.
# Environment: PYTHON (default python), CRACKJAX_COORDINATOR_PORT (default: a free port).
# If one process fails, the others are stopped and the exit status is non-zero.
set -euo pipefail

dry_run=0
if [[ "${1:-}" == "--dry-run" ]]; then
  dry_run=1
  shift
fi
if [[ $# -lt 3 || ! "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: launch/local_multiprocess.sh [--dry-run] N CONFIG WORKDIR [--config.key=value ...]" >&2
  echo "error: expected N (a positive integer), CONFIG and WORKDIR; got: $*" >&2
  exit 2
fi
num_processes="$1"
config="$2"
workdir="$3"
shift 3
python="${PYTHON:-python}"
if [[ ! -f "$config" ]]; then
  echo "error: config file '$config' does not exist (expected configs/<name>.py)" >&2
  exit 2
fi

port="${CRACKJAX_COORDINATOR_PORT:-}"
if [[ -z "$port" ]]; then
  port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi

log_dir="$workdir/logs"
pids=()
for ((i = 0; i < num_processes; i++)); do
  cmd=(env CRACKJAX_DISTRIBUTED=1 JAX_COORDINATOR_ADDRESS="127.0.0.1:$port"
       JAX_NUM_PROCESSES="$num_processes" JAX_PROCESS_ID="$i" JAX_PLATFORMS=cpu
       XLA_FLAGS="${XLA_FLAGS:-}"
       "$python" -m crackjax.main --config "$config" --workdir "$workdir" "$@")
  if ((dry_run)); then
    printf '%q ' "${cmd[@]}"
    if ((i > 0)); then printf '> %q 2>&1 ' "$log_dir/process_$i.log"; fi
    printf '&\n'
    continue
  fi
  if ((i == 0)); then
    "${cmd[@]}" &
  else
    mkdir -p "$log_dir"
    "${cmd[@]}" > "$log_dir/process_$i.log" 2>&1 &
  fi
  pids+=("$!")
done
if ((dry_run)); then
  echo "wait"
  exit 0
fi

stop_all() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2> /dev/null || true
  done
}
trap 'stop_all; exit 130' INT TERM

status=0
for _ in "${pids[@]}"; do
  if ! wait -n; then  # the next of our processes to end (they are this shell's only jobs)
    if ((status == 0)); then
      echo "local_multiprocess.sh: a process failed; stopping the others (logs in $log_dir)" >&2
      stop_all
    fi
    status=1
  fi
done
exit "$status"

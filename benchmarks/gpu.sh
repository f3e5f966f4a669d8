#!/usr/bin/env bash
# Train-step MFU in bf16 and float32 and images/s for the U-Net and DeepLabV3+ on one GPU (or TPU chip).
#
#   bash benchmarks/gpu.sh            # on the accelerator machine, from the repository root
#
# Needs jax (with the accelerator plugin), flax, optax and ml_collections; crackjax itself is imported from
# the checkout (PYTHONPATH), so nothing is installed. On the lent GPU machine (whose image has jax, flax and
# optax but not ml_collections), carry the wheel: here, once,
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl ml_collections==1.1.0
# then call the device tool with carry [".whl"] and the command `bash benchmarks/gpu.sh`.
# Results: a table on stdout and JSON in ${OUT:-benchmarks/results}/gpu_step.json. About 3-5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-benchmarks/results}"
mkdir -p "$out"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 benchmarks/gpu_step.py --models unet,deeplabv3plus --dtypes bfloat16,float32 --batch 16 --size 512 \
  --json "$out/gpu_step.json" "$@"

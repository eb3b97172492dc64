#!/usr/bin/env bash
# Single-host launcher (CPU or GPUs): sets up .venv, then runs a command.
#   bash launch/run_local.sh train --config=configs/toy_swav.py --workdir=w
#   ACCELERATOR=gpu bash launch/run_local.sh train --config=... --workdir=...
# ACCELERATOR=gpu adds jax's CUDA 12 plugin (same jax version) to .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: $0 COMMAND [flags]   (COMMAND: train, evaluate, generate, label, ...)" >&2
  exit 2
fi
bash launch/setup_env.sh
if [ "${ACCELERATOR:-cpu}" = "gpu" ]; then
  .venv/bin/python -m pip install -q "jax[cuda12]==$(.venv/bin/python -c 'import jax; print(jax.__version__)')"
fi
command=$1; shift
exec .venv/bin/stylegan-seg "$command" "$@"

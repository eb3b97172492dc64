#!/usr/bin/env bash
# The main job on the built-in toy generator, end to end:
#   bash launch/quickstart.sh [WORKDIR]     (default workdirs/quickstart)
# 1. creates .venv if missing and installs the pinned requirements and the
#    `stylegan-seg` command;
# 2. trains the SwAV embedding (configs/toy_swav.py, 100 steps);
# 3. fits ours and every baseline on the one labelled example (toy one-shot
#    seed 0: the example's exact part mask ships with the toy domain);
# 4. evaluates them on the 256 shipped test samples: prints the metric table
#    and writes WORKDIR/eval/ (metrics.json, metrics.md, *_overlay.png).
# Idempotent: a rerun reuses .venv and the finished training stages (the
# trainer resumes from WORKDIR's checkpoints) and re-evaluates.
set -euo pipefail
cd "$(dirname "$0")/.."
workdir=${1:-workdirs/quickstart}
bash launch/setup_env.sh
.venv/bin/stylegan-seg train --config=configs/toy_swav.py \
    --workdir="$workdir" --config.stage=swav,oneshot
.venv/bin/stylegan-seg evaluate --config=configs/toy_swav.py \
    --workdir="$workdir"
echo "overlays: $workdir/eval/*_overlay.png   next: .venv/bin/stylegan-seg generate (README.md)"

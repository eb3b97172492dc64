#!/usr/bin/env bash
# The toy results of docs/results.md: ours and every baseline over several one-shot
# examples, with mean and spread.
#   bash launch/toy_report.sh [ROOT [SEEDS [config overrides...]]]
#   bash launch/toy_report.sh workdirs/toy_report "0 1 2"
#   bash launch/toy_report.sh workdirs/cars_report "0 1 2" --config=configs/toy_cars.py
#   bash launch/toy_report.sh workdirs/toy_report_bilinear "0 1 2" \
#       --config.baselines.interpolation=bilinear
# Trains SwAV and the SimCLR baseline's projection once (ROOT/swav_run), then
# per toy one-shot seed S fits every method in ROOT/seed_S (its swav/ and
# simclr/ link to the shared stages) and evaluates it; finally prints and
# writes ROOT/report.md (mean ± std over the seeds).
# Idempotent like the quickstart: finished stages are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/toy_seeds.sh workdirs/toy_report "$@"
"$sg" train --config="$cfg" --workdir="$root/swav_run" \
    --config.stage=swav,simclr ${rest[@]+"${rest[@]}"}
fit_seeds "$root" "swav simclr" ${rest[@]+"${rest[@]}"}
"$sg" report "${runs[@]}" --out="$root"

#!/usr/bin/env bash
# The downstream table of docs/results.md: a segmentation network trained on
# each method's generated dataset and scored on images the generator did
# not make (the domain's renderer, as is and shifted).
#   bash launch/downstream_table.sh [ROOT [SEEDS [config overrides...]]]
#   bash launch/downstream_table.sh workdirs/toy_report "0 1 2"
#   bash launch/downstream_table.sh workdirs/cars_report "0 1 2" \
#       --config=configs/toy_cars.py
# ROOT is a launch/toy_report.sh root (its seeds are trained here first if
# they are not). For each one-shot seed S and each method M of the config:
# generate 10,000 samples (ROOT/seed_S/datasets/M), then train the
# downstream network (configs/downstream.py:EXPERIMENT, training seed S) on
# the first N = 1,000 and on all 10,000, without and with the 10% most
# uncertain dropped (ROOT/seed_S/downstream/M_nN_dropF); also on the one
# labelled image alone (.../oneshot, the floor) and on N renderer images
# with exact masks (.../rendered_nN, the ceiling). Finished runs are
# skipped. Prints and writes ROOT/downstream.md (mean ± std over the seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/toy_seeds.sh workdirs/toy_report "$@"
sizes=${DOWNSTREAM_SIZES:-1000 10000}
drops=${DOWNSTREAM_DROPS:-0 0.1}
experiment=$(basename "$cfg" .py)
down_cfg=configs/downstream.py:$experiment
methods=$(.venv/bin/python -c 'import runpy, sys
sys.path.insert(0, ".")
c = runpy.run_path(sys.argv[1])["get_config"]()
m = c.oneshot.methods
print(" ".join(m.split(",") if isinstance(m, str) else m))' "$cfg")
largest=$(tr ' ' '\n' <<< "$sizes" | sort -n | tail -1)

"$sg" train --config="$cfg" --workdir="$root/swav_run" \
    --config.stage=swav,simclr ${rest[@]+"${rest[@]}"}
fit_seeds "$root" "swav simclr" ${rest[@]+"${rest[@]}"}

downstream() {  # downstream WORKDIR RUN TRAIN_SET SEED [FLAGS...]
  local w=$1 run=$2 train_set=$3 s=$4
  shift 4
  local d="$w/downstream/$run"
  if [[ -f "$d/downstream/eval/metrics.json" ]]; then return; fi
  "$sg" train --config="$down_cfg" --workdir="$d" --config.seed="$s" \
      --config.data.oneshot="$domain:seed:$s" \
      --config.downstream.train_set="$train_set" "$@" \
      ${rest[@]+"${rest[@]}"}
}

workdirs=()
for s in $seeds; do
  w="$root/seed_$s"
  for m in $methods; do
    "$sg" generate --config="$cfg" --workdir="$w" \
        --config.data.oneshot="$domain:seed:$s" \
        --config.generate.method="$m" --num_samples="$largest" \
        --out="$w/datasets/$m" ${rest[@]+"${rest[@]}"}
    for n in $sizes; do
      for f in $drops; do
        downstream "$w" "${m}_n${n}_drop${f}" "$w/datasets/$m" "$s" \
            --config.downstream.num_train="$n" \
            --config.downstream.drop_uncertain="$f"
      done
    done
  done
  downstream "$w" oneshot oneshot "$s"
  for n in $sizes; do
    downstream "$w" "rendered_n$n" "$domain:rendered" "$s" \
        --config.downstream.num_train="$n"
  done
  workdirs+=(--workdir="$w")
done
"$sg" report --downstream "${workdirs[@]}" --out="$root"

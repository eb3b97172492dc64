#!/usr/bin/env bash
# The SwAV ablation of docs/results.md: ours with its projection left at the
# random initialisation and trained under several recipes of the
# self-supervised stage, each over the same toy one-shot seeds.
#   bash launch/toy_ablation.sh [ROOT [SEEDS [VARIANT...]]]
#   bash launch/toy_ablation.sh workdirs/toy_ablation "0 1 2"
#   bash launch/toy_ablation.sh workdirs/toy_ablation "0" random_init reference
# For each variant: trains its SwAV stage once (ROOT/NAME/swav_run), then per
# seed S fits ours on toy seed S (ROOT/NAME/seed_S, swav/ linked to the
# shared stage) and evaluates it on the 256 toy test samples; finally writes
# ROOT/ablation.md (stylegan-seg report --ablation): per
# variant, ours' mean ± std over the seeds, its change from the first
# variant, the SwAV loss, how far the projection moved and the time per step.
# Idempotent: finished stages are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/toy_seeds.sh workdirs/toy_ablation "$@"

# NAME: the config overrides of the variant (on configs/toy_swav.py, whose
# defaults are the last variant). Every variant spells out the settings it
# compares, so the table does not change when the defaults do.
ref="--config.optim.lr=0.01 --config.views.align_views=False"
ref+=" --config.swav.layer_norm_init=False"
declare -A variants=(
  # the projection as initialised (the reference's initialisation): no step
  [random_init]="--config.num_steps=1 $ref --config.optim.lr=0.0"
  # the reference recipe (the toy config's defaults before this table)
  [reference]="$ref"
  # 10x the step with the reference's pairing of pixels by index
  [index_pairs_lr0.1]="$ref --config.optim.lr=0.1"
  # the same step, pairs of corresponding pixels
  [aligned_lr0.1]="$ref --config.optim.lr=0.1 --config.views.align_views=True"
  # the balanced initialisation (each layer scaled to a common RMS): no step
  [balanced_init]="--config.num_steps=1 $ref --config.optim.lr=0.0
    --config.swav.layer_norm_init=True"
  # the toy config's defaults: aligned pairs, lr 0.1, balanced initialisation
  [default]="--config.optim.lr=0.1 --config.views.align_views=True
    --config.swav.layer_norm_init=True"
)
order=(random_init reference index_pairs_lr0.1 aligned_lr0.1 balanced_init
       default)
if (( ${#rest[@]} )); then order=("${rest[@]}"); fi

dirs=()
for name in "${order[@]}"; do
  if [[ -z "${variants[$name]+set}" ]]; then
    echo "toy_ablation: error: unknown variant '$name' (known: ${!variants[*]})" >&2
    exit 2
  fi
  read -r -a flags <<< "$(echo ${variants[$name]})"
  run="$root/$name"
  "$sg" train --config="$cfg" --workdir="$run/swav_run" \
      --config.stage=swav ${flags[@]+"${flags[@]}"}
  fit_seeds "$run" swav --config.oneshot.methods=ours ${flags[@]+"${flags[@]}"}
  dirs+=(--workdir="$run")
done
"$sg" report --ablation "${dirs[@]}" --out="$root"

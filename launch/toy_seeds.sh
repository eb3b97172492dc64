# Sourced by launch/toy_report.sh and launch/toy_ablation.sh (not run on
# its own): their common arguments and the loop over toy one-shot seeds.
#
#   source launch/toy_seeds.sh DEFAULT_ROOT "$@"
#     sets root (ARG 1, else DEFAULT_ROOT), seeds (ARG 2, else "0 1 2") and
#     rest (the remaining arguments), sets up .venv, and defines fit_seeds.
#   fit_seeds RUN "STAGES" FLAGS...
#     for each seed S: RUN/seed_S links STAGES from RUN/swav_run, fits the
#     one-shot stage on toy seed S with FLAGS and evaluates it; appends
#     --workdir=RUN/seed_S to the array runs.
root=${2:-$1}
seeds=${3:-0 1 2}
shift $(( $# < 3 ? $# : 3 ))
rest=("$@")
bash launch/setup_env.sh
sg=.venv/bin/stylegan-seg
cfg=configs/toy_swav.py
runs=()

fit_seeds() {
  local run=$1 stages=$2 s w stage
  shift 2
  for s in $seeds; do
    w="$run/seed_$s"
    mkdir -p "$w"
    for stage in $stages; do
      ln -sfn "$(cd "$run/swav_run" && pwd)/$stage" "$w/$stage"
    done
    local args=(--config="$cfg" --workdir="$w"
                --config.data.oneshot="toy_seed:$s" "$@")
    "$sg" train "${args[@]}" --config.stage=oneshot
    "$sg" evaluate "${args[@]}"
    runs+=(--workdir="$w")
  done
}

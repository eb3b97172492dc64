# Sourced by launch/toy_report.sh and launch/toy_ablation.sh (not run on
# its own): their common arguments and the loop over toy one-shot seeds.
#
#   source launch/toy_seeds.sh DEFAULT_ROOT "$@"
#     sets root (ARG 1, else DEFAULT_ROOT), seeds (ARG 2, else "0 1 2"),
#     cfg (a --config=FILE among the remaining arguments, else
#     configs/toy_swav.py), domain (the toy domain the config's
#     generator_dir names, e.g. toy:cars) and rest (the remaining
#     arguments but --config), sets up .venv, and defines fit_seeds.
#   fit_seeds RUN "STAGES" FLAGS...
#     for each seed S: RUN/seed_S links STAGES from RUN/swav_run, fits the
#     one-shot stage on the domain's one-shot seed S with FLAGS and
#     evaluates it; appends --workdir=RUN/seed_S to the array runs.
root=${2:-$1}
seeds=${3:-0 1 2}
shift $(( $# < 3 ? $# : 3 ))
cfg=configs/toy_swav.py
rest=()
for arg in "$@"; do
  case "$arg" in
    --config=*) cfg=${arg#--config=} ;;
    *) rest+=("$arg") ;;
  esac
done
bash launch/setup_env.sh
sg=.venv/bin/stylegan-seg
domain=$(.venv/bin/python -c 'import runpy, sys
sys.path.insert(0, ".")
print(runpy.run_path(sys.argv[1])["get_config"]().generator_dir)' "$cfg")
if [[ "$domain" != toy:* ]]; then
  echo "toy_seeds: error: $cfg does not name a toy domain" \
       "(generator_dir=$domain)" >&2
  exit 2
fi
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
                --config.data.oneshot="$domain:seed:$s" "$@")
    "$sg" train "${args[@]}" --config.stage=oneshot
    "$sg" evaluate "${args[@]}"
    runs+=(--workdir="$w")
  done
}

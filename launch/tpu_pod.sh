#!/usr/bin/env bash
# Runs one command on every worker of a Cloud TPU VM (pod slice).
#
#   bash launch/tpu_pod.sh NAME ZONE train --config=configs/ffhq256.py \
#       --config.generator_dir=gs://bucket/ffhq --workdir=gs://bucket/run
#
# 1. copies this checkout (tracked files) to ~/stylegan_seg_jax on all
#    workers (gcloud compute tpus tpu-vm scp --worker=all);
# 2. on each worker, in parallel: frees the TPU from stale processes and the
#    libtpu lockfile, creates .venv if missing (pinned requirements plus
#    jax[tpu] of the same version), and runs
#    `python -m stylegan_seg_jax.MODULE ARGS` with distributed init on
#    (STYLEGAN_SEG_JAX_DISTRIBUTED=1; coordinator, process ids and devices
#    are auto-detected on Cloud TPU);
# 3. writes each worker's output to logs/tpu_NAME/worker_I.log and reports
#    which worker failed first.
# Environment: PROJECT (gcloud project, optional), WORKERS (worker count;
# read from `gcloud ... describe` when unset).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
  echo "usage: $0 TPU_NAME ZONE MODULE [flags]" >&2
  exit 2
fi
name=$1 zone=$2 module=$3
shift 3
args=$(printf '%q ' "$@")
project=()
[ -n "${PROJECT:-}" ] && project=(--project="$PROJECT")
if [ -z "${WORKERS:-}" ]; then
  WORKERS=$(gcloud compute tpus tpu-vm describe "$name" --zone="$zone" \
      "${project[@]}" --format='value(networkEndpoints.len())')
fi
logdir="logs/tpu_${name}"
mkdir -p "$logdir"
bundle=$(mktemp -d)/stylegan_seg_jax.tar.gz
git ls-files -z | tar --null -czf "$bundle" -T -
gcloud compute tpus tpu-vm scp "$bundle" "$name":~/stylegan_seg_jax.tar.gz \
    --zone="$zone" --worker=all "${project[@]}"
remote="set -e; mkdir -p ~/stylegan_seg_jax; cd ~/stylegan_seg_jax; \
tar xzf ~/stylegan_seg_jax.tar.gz; \
sudo pkill -f 'python -m stylegan_seg_jax' || true; \
sudo rm -f /tmp/libtpu_lockfile; \
bash launch/setup_env.sh; \
.venv/bin/python -m pip install -q \"jax[tpu]==\$(.venv/bin/python -c 'import jax; print(jax.__version__)')\" \
  -f https://storage.googleapis.com/jax-releases/libtpu_releases.html; \
STYLEGAN_SEG_JAX_DISTRIBUTED=1 .venv/bin/python -m stylegan_seg_jax.${module} ${args}"
pids=()
for ((i = 0; i < WORKERS; i++)); do
  gcloud compute tpus tpu-vm ssh "$name" --zone="$zone" --worker="$i" \
      "${project[@]}" --command="$remote" > "$logdir/worker_$i.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "worker $i failed: see $logdir/worker_$i.log" >&2
    status=1
  fi
done
echo "logs in $logdir/"
exit $status

#!/usr/bin/env bash
# Runs one tool on every worker of a Cloud TPU VM slice (a pod), multi-host.
#
#   bash launch/tpu_pod.sh NAME ZONE COMMAND [flags]
#   bash launch/tpu_pod.sh my-v4-32 us-central2-b train \
#       --config=configs/ffhq256.py \
#       --config.generator_dir=gs://my-bucket/generators/ffhq \
#       --workdir=gs://my-bucket/runs/ffhq256 --config.batch_size=16
#
# 1. checks the command line and that every input it names exists, here or
#    in the bucket (the config file, --config.generator_dir,
#    --config.data.oneshot and --config.data.test_set when they are paths);
# 2. copies this checkout (tracked files) to ~/stylegan_seg_jax on every
#    worker (gcloud compute tpus tpu-vm scp --worker=all);
# 3. sets every worker up, all at once, and waits for all of them: stops
#    the previous run this launcher started there (its pid file, not a
#    pattern that could match this very command) and frees the TPU (the
#    libtpu lockfile), finds or installs Python >= 3.11, creates .venv with
#    the pinned requirements (plus jax[tpu] of the same version);
# 4. only then starts the tool on every worker, each in the background of
#    its own ssh session, with distributed init on
#    (STYLEGAN_SEG_JAX_DISTRIBUTED=1: coordinator, process ids and devices
#    are auto-detected on Cloud TPU), so that no worker waits for another's
#    installation inside jax.distributed.initialize's timeout;
# 5. appends each worker's output to logs/tpu_NAME/worker_I.log (and the
#    setup's to setup.log), each launch under a dated header line, and
#    reports which worker failed.
# Environment: PROJECT (gcloud project, optional); WORKERS (worker count;
# read from `gcloud ... describe` when unset); LOG_DIR (default
# logs/tpu_NAME); ACCELERATOR (tpu, the
# default; cpu runs on the workers' CPUs, without jax[tpu]).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
  echo "usage: $0 TPU_NAME ZONE COMMAND [flags]" >&2
  exit 2
fi
name=$1 zone=$2 command=$3
shift 3
accelerator=${ACCELERATOR:-tpu}
case "$accelerator" in
  tpu|cpu) ;;
  *) echo "tpu_pod: error: ACCELERATOR must be tpu or cpu, got '$accelerator'" >&2
     exit 2 ;;
esac
# Every gcloud call takes these; "${project[@]+"${project[@]}"}" keeps an
# empty array safe under set -u on bash < 4.4 (macOS).
project=()
[ -n "${PROJECT:-}" ] && project=(--project="$PROJECT")
gc() {
  gcloud compute tpus tpu-vm "$@" --zone="$zone" \
      ${project[@]+"${project[@]}"}
}

# 1. The command line parses and its inputs exist, before any worker is
#    touched.
if [ -x .venv/bin/python ]; then
  py=.venv/bin/python
else
  py=python3
fi
STYLEGAN_SEG_JAX_CHECK_INPUTS=1 PYTHONPATH=. "$py" -m stylegan_seg_jax "$command" "$@"

if [ -z "${WORKERS:-}" ]; then
  WORKERS=$(gc describe "$name" --format='value(networkEndpoints.len())')
fi
if ! [[ "$WORKERS" =~ ^[1-9][0-9]*$ ]]; then
  echo "tpu_pod: error: could not read the worker count of $name (got '$WORKERS'); set WORKERS" >&2
  exit 1
fi
logdir="${LOG_DIR:-logs/tpu_${name}}"
mkdir -p "$logdir"

# 2. The code.
bundle_dir=$(mktemp -d)
trap 'rm -rf "$bundle_dir"' EXIT
git ls-files -z | tar --null -czf "$bundle_dir/stylegan_seg_jax.tar.gz" -T -
gc scp "$bundle_dir/stylegan_seg_jax.tar.gz" "$name":~/stylegan_seg_jax.tar.gz \
    --worker=all

# 3. Set up every worker; all must succeed before any run starts.
setup="set -euo pipefail; mkdir -p ~/stylegan_seg_jax; cd ~/stylegan_seg_jax; \
tar xzf ~/stylegan_seg_jax.tar.gz; \
ACCELERATOR=$accelerator bash launch/pod_worker.sh setup"
echo "setting up $WORKERS worker(s) of $name (log: $logdir/setup.log)"
stamp="=== $(date -u +%Y-%m-%dT%H:%M:%SZ) $command ==="
echo "$stamp" >> "$logdir/setup.log"
if ! gc ssh "$name" --worker=all --command="$setup" >> "$logdir/setup.log" 2>&1; then
  echo "tpu_pod: error: the setup failed on a worker; see $logdir/setup.log" >&2
  tail -n 5 "$logdir/setup.log" >&2 || true
  exit 1
fi

# 4. Start the tool on every worker at once.
args=$(printf '%q ' "$@")
start="cd ~/stylegan_seg_jax && exec bash launch/pod_worker.sh run $command $args"
pids=()
for ((i = 0; i < WORKERS; i++)); do
  echo "$stamp" >> "$logdir/worker_$i.log"
  gc ssh "$name" --worker="$i" --command="$start" \
      >> "$logdir/worker_$i.log" 2>&1 &
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

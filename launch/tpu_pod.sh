#!/usr/bin/env bash
# Drives a Cloud TPU VM slice (a pod) from your machine: create it, run one
# tool on every worker (multi-host), watch, stop, resume after a
# preemption, fetch results, delete it. docs/pod.md is the walkthrough.
#
#   bash launch/tpu_pod.sh NAME ZONE create            # ACCELERATOR_TYPE=v4-32
#   bash launch/tpu_pod.sh NAME ZONE train|evaluate|generate [flags]
#   bash launch/tpu_pod.sh NAME ZONE status|logs [LINES]|stop
#   bash launch/tpu_pod.sh NAME ZONE resume            # after a preemption
#   bash launch/tpu_pod.sh NAME ZONE fetch SRC... DEST  # gcloud storage cp -r
#   bash launch/tpu_pod.sh NAME ZONE delete
#
# create: a queued resource NAME (node NAME) of ACCELERATOR_TYPE with its
#   runtime (RUNTIME_VERSION, default from the table in docs/pod.md), SPOT=1
#   for Spot capacity, SERVICE_ACCOUNT (with the cloud-platform scope) for
#   the workers' access to the bucket, INTERNAL_IP=1 for no external IPs;
#   waits until it is ACTIVE. The settings are kept for `resume`.
# train|evaluate|generate: 1. checks the command line and that every input
#   it names exists in the bucket (a relative local path is refused: the
#   workers would not have it); 2. with more than one worker, checks that
#   gcloud's ssh key is in your ssh agent; 3. copies this checkout (tracked
#   files) to ~/stylegan_seg_jax on every worker; 4. sets every worker up in
#   one call and waits for all (launch/pod_worker.sh setup: stops the run
#   it started there before, Python, .venv, jax[tpu]); 5. only then starts
#   the tool on every worker, detached from ssh (it survives a dropped
#   connection; a retried start starts nothing twice); 6. follows the run
#   until every worker has ended (DETACH=1: return at once), copies each
#   worker's log to LOG_DIR/worker_I.log and names the workers that failed.
# status, logs, stop: each worker's run (running, exit code), the end of
#   each worker's log, and stopping the run (by its recorded pid only).
# resume: if the slice was preempted or deleted, deletes what is left,
#   creates it again with the recorded settings, then reruns the last
#   command, which resumes every stage from the bucket's checkpoints.
#
# Environment: PROJECT (gcloud project), WORKERS (worker count; else read
# with `describe`), LOG_DIR (default logs/tpu_NAME), ACCELERATOR (tpu, the
# default; cpu: the workers' CPUs, no jax[tpu]), INTERNAL_IP=1 (ssh and scp
# to internal IPs), IAP=1 (ssh and scp through Identity-Aware Proxy; gcloud
# offers that only in its alpha commands), SSH_KEY (default
# ~/.ssh/google_compute_engine), POLL_SECONDS (status poll, default 30),
# DETACH=1.
set -euo pipefail
caller_dir=$PWD  # (fetch's relative paths are the caller's)
cd "$(dirname "$0")/.."
usage() {
  echo "usage: $0 NAME ZONE create|train|evaluate|generate|status|logs|stop|resume|fetch|delete [args]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
name=$1 zone=$2 verb=$3
shift 3
fail() {
  echo "tpu_pod: error: $*" >&2
  exit 1
}
accelerator=${ACCELERATOR:-tpu}
case "$accelerator" in
  tpu|cpu) ;;
  *) echo "tpu_pod: error: ACCELERATOR must be tpu or cpu, got '$accelerator'" >&2
     exit 2 ;;
esac
logdir="${LOG_DIR:-logs/tpu_${name}}"
poll=${POLL_SECONDS:-30}
# "${a[@]+"${a[@]}"}" keeps an empty array safe under set -u on bash < 4.4.
project=()
[ -n "${PROJECT:-}" ] && project=(--project="$PROJECT")
vm=(gcloud compute tpus tpu-vm)
ssh_flags=()
if [ "${IAP:-}" = 1 ]; then
  # (gcloud takes one of --tunnel-through-iap and --internal-ip, not both:
  # the tunnel reaches internal addresses.)
  vm=(gcloud alpha compute tpus tpu-vm)
  ssh_flags+=(--tunnel-through-iap)
elif [ "${INTERNAL_IP:-}" = 1 ]; then
  ssh_flags+=(--internal-ip)
fi
[ -n "${SSH_KEY:-}" ] && ssh_flags+=(--ssh-key-file="$SSH_KEY")
qr() {  # queued-resources VERB ...
  gcloud compute tpus queued-resources "$@" --zone="$zone" \
      ${project[@]+"${project[@]}"}
}
node() {  # tpu-vm describe/delete
  gcloud compute tpus tpu-vm "$@" --zone="$zone" \
      ${project[@]+"${project[@]}"}
}
remote() {  # ssh or scp to the workers
  "${vm[@]}" "$@" --zone="$zone" ${project[@]+"${project[@]}"} \
      ${ssh_flags[@]+"${ssh_flags[@]}"}
}
on_workers() {  # on_workers all|I COMMAND: run in ~/stylegan_seg_jax
  remote ssh "$name" --worker="$1" \
      --command="cd ~/stylegan_seg_jax && $2"
}
command -v gcloud > /dev/null 2>&1 || fail "gcloud not found: install the gcloud CLI (https://cloud.google.com/sdk/docs/install; docs/pod.md section 1)"
mkdir -p "$logdir"
slice_env="$logdir/slice.env"
last_command="$logdir/last_command"
last_run="$logdir/last_run"
last_accelerator="$logdir/last_accelerator"

# The slice's state (READY, PREEMPTED, ...), MISSING when it does not
# exist; any other failure to read it stops here.
slice_state() {
  local out
  if out=$(node describe "$name" --format='value(state)' 2>&1); then
    echo "$out"
  elif grep -q NOT_FOUND <<< "$out"; then
    echo MISSING
  else
    fail "cannot read the state of $name: $(head -n 1 <<< "$out")"
  fi
}

worker_count() {
  if [ -z "${WORKERS:-}" ]; then
    WORKERS=$(node describe "$name" --format='value(networkEndpoints.len())')
  fi
  if ! [[ "$WORKERS" =~ ^[1-9][0-9]*$ ]]; then
    fail "could not read the worker count of $name (got '$WORKERS'); set WORKERS"
  fi
}

# gcloud's ssh to several workers at once needs its key in the ssh agent
# (without it: "SSH Key is not present in the SSH agent", or a stall).
check_ssh_agent() {
  [ "$WORKERS" -gt 1 ] || return 0
  local key=${SSH_KEY:-$HOME/.ssh/google_compute_engine} fingerprint
  [ -f "$key.pub" ] || fail "no ssh key $key.pub: create it with one \`gcloud compute tpus tpu-vm ssh $name --zone=$zone --worker=0 --command=true\`, then run: eval \"\$(ssh-agent -s)\"; ssh-add $key"
  fingerprint=$(ssh-keygen -lf "$key.pub" | awk '{print $2}')
  if ! ssh-add -l 2>/dev/null | grep -qF "$fingerprint"; then
    fail "the ssh key $key is not in your ssh agent, which gcloud needs for more than one worker: run  eval \"\$(ssh-agent -s)\"; ssh-add $key"
  fi
}

# The runtime of each accelerator family (Cloud TPU's "TPU software
# versions" page); anything else needs RUNTIME_VERSION.
default_runtime() {
  case "$1" in
    v4-*) echo tpu-ubuntu2204-base ;;
    v5litepod-*) echo v2-alpha-tpuv5-lite ;;
    v6e-*) echo v2-alpha-tpuv6e ;;
    *) return 1 ;;
  esac
}

create() {
  local type=${ACCELERATOR_TYPE:-} runtime=${RUNTIME_VERSION:-}
  [ -n "$type" ] || fail "set ACCELERATOR_TYPE (for example v4-32, v5litepod-16, v6e-16)"
  [[ "$type" =~ ^[a-z0-9-]+$ ]] || fail "bad ACCELERATOR_TYPE '$type'"
  if [ -z "$runtime" ]; then
    runtime=$(default_runtime "$type") || fail "no default runtime for '$type': set RUNTIME_VERSION"
  fi
  local args=(--node-id="$name" --accelerator-type="$type"
              --runtime-version="$runtime" --async)
  [ "${SPOT:-}" = 1 ] && args+=(--spot)
  [ "${INTERNAL_IP:-}" = 1 ] && args+=(--internal-ips)
  if [ -n "${SERVICE_ACCOUNT:-}" ]; then
    args+=(--service-account="$SERVICE_ACCOUNT"
           --scopes=https://www.googleapis.com/auth/cloud-platform)
  fi
  echo "requesting $type ($runtime${SPOT:+, spot}) as queued resource $name"
  qr create "$name" "${args[@]}"
  printf 'ACCELERATOR_TYPE=%q\nRUNTIME_VERSION=%q\nSPOT=%q\nSERVICE_ACCOUNT=%q\nINTERNAL_IP=%q\n' \
      "$type" "$runtime" "${SPOT:-}" "${SERVICE_ACCOUNT:-}" \
      "${INTERNAL_IP:-}" > "$slice_env"
  local state="" seen=""
  while true; do
    state=$(qr describe "$name" --format='value(state.state)') || state=""
    [ "$state" = "$seen" ] || echo "$(date -u +%H:%M:%S) $name: ${state:-unknown}"
    seen=$state
    case "$state" in
      ACTIVE) break ;;
      FAILED|SUSPENDED|SUSPENDING)
        fail "the queued resource $name is $state; see: gcloud compute tpus queued-resources describe $name --zone=$zone" ;;
    esac
    sleep "$poll"
  done
}

delete() {
  if qr describe "$name" --format='value(state.state)' > /dev/null 2>&1; then
    qr delete "$name" --force --quiet  # --force: its node too
  elif node describe "$name" --format='value(state)' > /dev/null 2>&1; then
    node delete "$name" --quiet
  fi
}

# One line per worker: "worker=I run=R state=S ...", sorted.
states() {
  on_workers all "bash launch/pod_worker.sh state" | grep '^worker=' | sort
}

# Follows run RUN_ID until every worker has ended; 0 when all exited 0.
follow() {
  local run=$1 lines="" previous="" failures=0 code=0 line
  while true; do
    if ! lines=$(states); then
      failures=$((failures + 1))
      if [ "$failures" -ge 3 ]; then
        local state
        state=$(slice_state)
        case "$state" in
          READY)
            if [ "$failures" -ge 10 ]; then
              fail "cannot reach every worker of $name (the slice is READY); \`bash $0 $name $zone status\` tells which"
            fi ;;
          PREEMPTED|TERMINATED|MISSING)
            fail "the slice $name is ${state}: the run stopped there; \`bash $0 $name $zone resume\` recreates it and resumes from the last checkpoints" ;;
          *) echo "$(date -u +%H:%M:%S) $name: $state" ;;
        esac
      fi
      sleep "$poll"
      continue
    fi
    failures=0
    [ "$lines" = "$previous" ] || echo "$lines"
    previous=$lines
    local ended=0 total=0
    while read -r line; do
      total=$((total + 1))
      case "$line" in
        *"run=$run state=exited"*) ended=$((ended + 1)) ;;
        *"run=$run state=running"*) ;;
        *"run=$run state=lost"*)
          fail "worker ${line%% *}: its run ended without a status (the machine restarted?); \`bash $0 $name $zone resume\` reruns it from the last checkpoints" ;;
        *) fail "worker ${line%% *}: not running this launch ($line); see \`bash $0 $name $zone logs\`" ;;
      esac
    done <<< "$lines"
    if [ "$ended" -eq "$total" ] && [ "$total" -eq "$WORKERS" ]; then
      break
    fi
    sleep "$poll"
  done
  for ((i = 0; i < WORKERS; i++)); do
    on_workers "$i" "cat logs/run.log" > "$logdir/worker_$i.log" 2>/dev/null || true
    if ! grep -q "worker=$i run=$run state=exited code=0" <<< "$lines"; then
      echo "worker $i failed ($(grep "^worker=$i " <<< "$lines")): see $logdir/worker_$i.log" >&2
      code=1
    fi
  done
  echo "logs in $logdir/"
  return $code
}

run_tool() {
  local command=$1
  shift
  # 1. The command line parses, every input exists, none is a relative
  #    local path, before any worker is touched.
  local py=python3
  [ -x .venv/bin/python ] && py=.venv/bin/python
  STYLEGAN_SEG_JAX_CHECK_INPUTS=multihost PYTHONPATH=. "$py" \
      -m stylegan_seg_jax "$command" "$@"
  worker_count
  check_ssh_agent
  printf '%q ' "$command" "$@" > "$last_command"
  echo "$accelerator" > "$last_accelerator"

  # 2. The code.
  bundle_dir=$(mktemp -d)  # (global: the trap runs after this returns)
  trap 'rm -rf "$bundle_dir"' EXIT
  git ls-files -z | tar --null -czf "$bundle_dir/stylegan_seg_jax.tar.gz" -T -
  remote scp "$bundle_dir/stylegan_seg_jax.tar.gz" \
      "$name":~/stylegan_seg_jax.tar.gz --worker=all

  # 3. Set up every worker; all must succeed before any run starts.
  # ... and reads the run's inputs with the slice's credentials.
  local args
  args=$(printf '%q ' "$command" "$@")
  local setup="set -euo pipefail; mkdir -p ~/stylegan_seg_jax; \
cd ~/stylegan_seg_jax; tar xzf ~/stylegan_seg_jax.tar.gz; \
ACCELERATOR=$accelerator bash launch/pod_worker.sh setup; \
STYLEGAN_SEG_JAX_CHECK_INPUTS=multihost .venv/bin/python -m stylegan_seg_jax $args"
  echo "setting up $WORKERS worker(s) of $name (log: $logdir/setup.log)"
  echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) $command ===" >> "$logdir/setup.log"
  if ! remote ssh "$name" --worker=all --command="$setup" \
      >> "$logdir/setup.log" 2>&1; then
    echo "tpu_pod: error: the setup failed on a worker; see $logdir/setup.log" >&2
    tail -n 5 "$logdir/setup.log" >&2 || true
    exit 1
  fi

  # 4. Start the tool on every worker, detached.
  local run pids=() status=0 i
  run="$(date -u +%Y%m%dT%H%M%S)-$RANDOM"
  echo "$run" > "$last_run"
  for ((i = 0; i < WORKERS; i++)); do
    on_workers "$i" "bash launch/pod_worker.sh start $run $i $args" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "worker $i: the start failed" >&2; status=1; }
  done
  [ "$status" = 0 ] || fail "the run $run did not start on every worker; \`bash $0 $name $zone stop\` stops the others"
  echo "run $run started on $WORKERS worker(s)"
  if [ "${DETACH:-}" = 1 ]; then
    echo "detached: \`bash $0 $name $zone status\` and \`... logs\` follow it"
    return 0
  fi
  follow "$run"
}

resume() {
  [ -f "$last_command" ] || fail "nothing to resume: no $last_command (run a command first)"
  if [ -z "${ACCELERATOR:-}" ] && [ -f "$last_accelerator" ]; then
    accelerator=$(cat "$last_accelerator")
  fi
  local state
  while true; do
    state=$(slice_state)
    echo "slice $name: $state"
    case "$state" in
      READY|PREEMPTED|TERMINATED|MISSING) break ;;
      STOPPED) fail "$name is STOPPED: start it (gcloud compute tpus tpu-vm start $name --zone=$zone), then resume" ;;
      *) sleep "$poll" ;;  # CREATING, STARTING, RESTARTING, REPAIRING, ...
    esac
  done
  if [ "$state" != READY ]; then
    [ -f "$slice_env" ] || fail "$name is $state and was not created by this launcher ($slice_env is missing): create it again (\`... create\`), then resume"
    # shellcheck disable=SC1090
    source "$slice_env"
    export ACCELERATOR_TYPE RUNTIME_VERSION SPOT SERVICE_ACCOUNT INTERNAL_IP
    delete
    create
    unset WORKERS
  else
    # The last launch, if every worker still runs it or has ended it well,
    # is followed (its logs collected), not started again.
    worker_count
    local run lines
    run=$(cat "$last_run" 2>/dev/null || echo none)
    lines=$(states) || fail "cannot reach every worker of $name; \`bash $0 $name $zone status\` tells which"
    if [ "$(grep -cE "run=$run state=(running|exited code=0)" <<< "$lines")" = "$WORKERS" ]; then
      echo "run $run: following it"
      follow "$run"
      return
    fi
  fi
  local -a argv
  eval "argv=($(cat "$last_command"))"
  echo "rerunning: ${argv[*]}"
  run_tool "${argv[@]}"
}

case "$verb" in
  create) create ;;
  train|evaluate|generate) run_tool "$verb" "$@" ;;
  status) worker_count; states ;;
  logs)
    worker_count
    lines=${1:-50}
    [[ "$lines" =~ ^[0-9]+$ ]] || usage
    for ((i = 0; i < WORKERS; i++)); do
      echo "--- worker $i ---"
      on_workers "$i" "bash launch/pod_worker.sh log $lines"
    done ;;
  stop) on_workers all "bash launch/pod_worker.sh stop" ;;
  resume) resume ;;
  fetch)
    [ $# -ge 2 ] || usage
    (cd "$caller_dir" && gcloud storage cp -r "$@") ;;
  delete) delete ;;
  *) usage ;;
esac

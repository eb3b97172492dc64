#!/usr/bin/env bash
# What launch/tpu_pod.sh runs on each worker of a pod, through gcloud ssh:
#
#   bash launch/pod_worker.sh setup              # before any worker starts
#   bash launch/pod_worker.sh run COMMAND [flags] # the tool, multi-host
#
# setup: stops the run this launcher started here before (the pid in
# .run.pid, checked to be one of ours), removes the libtpu lockfile, finds
# Python >= 3.11 (PYTHON, python3.11, ..., python3), else installs it
# (apt-get python3.11, else uv's managed Python), creates .venv with the
# pinned requirements and, with ACCELERATOR=tpu (the default), jax[tpu] of
# the pinned jax version. Fails with one line when it cannot.
# run: records its pid in .run.pid and becomes
# `.venv/bin/python -m stylegan_seg_jax COMMAND` with distributed init on.
set -euo pipefail
cd "$(dirname "$0")/.."
PID_FILE=.run.pid

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

stop_previous() {
  [ -f "$PID_FILE" ] || return 0
  local pid
  pid=$(cat "$PID_FILE")
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
      && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null \
         | grep -q 'stylegan_seg_jax'; then
    echo "stopping the previous run (pid $pid)"
    as_root kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      as_root kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE"
}

find_python() {
  local cand
  for cand in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" > /dev/null 2>&1 && "$cand" -c \
        'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' \
        2> /dev/null; then
      command -v "$cand"
      return 0
    fi
  done
  return 1
}

setup() {
  stop_previous
  as_root rm -f /tmp/libtpu_lockfile
  local py=""
  py=$(find_python) || py=""
  if [ -z "$py" ] && command -v apt-get > /dev/null 2>&1; then
    echo "installing python3.11 with apt-get"
    as_root apt-get update -qq > /dev/null 2>&1 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        python3.11 python3.11-venv > /dev/null 2>&1 || true
    py=$(find_python) || py=""
  fi
  if [ -z "$py" ]; then
    echo "installing a managed Python 3.11 with uv"
    if python3 -m pip install -q --user uv > /dev/null 2>&1 \
        && "$HOME/.local/bin/uv" python install 3.11 > /dev/null 2>&1; then
      py=$("$HOME/.local/bin/uv" python find 3.11)
    fi
  fi
  if [ -z "$py" ]; then
    echo "pod_worker: error: no Python >= 3.11 on $(hostname), and neither apt-get (python3.11) nor uv could install one; install it and set PYTHON" >&2
    exit 1
  fi
  echo "python: $py ($("$py" --version 2>&1))"
  PYTHON="$py" bash launch/setup_env.sh
  if [ "${ACCELERATOR:-tpu}" = tpu ]; then
    local version
    version=$(.venv/bin/python -c 'import jax; print(jax.__version__)')
    .venv/bin/python -m pip install -q --disable-pip-version-check \
        "jax[tpu]==$version" \
        -f https://storage.googleapis.com/jax-releases/libtpu_releases.html
  fi
  echo "setup done on $(hostname)"
}

case "${1:-}" in
  setup)
    setup ;;
  run)
    if [ $# -lt 2 ]; then
      echo "usage: $0 run COMMAND [flags]" >&2
      exit 2
    fi
    command=$2
    shift 2
    echo $$ > "$PID_FILE"
    export STYLEGAN_SEG_JAX_DISTRIBUTED=1
    exec .venv/bin/python -m stylegan_seg_jax "$command" "$@" ;;
  *)
    echo "usage: $0 setup | run COMMAND [flags]" >&2
    exit 2 ;;
esac

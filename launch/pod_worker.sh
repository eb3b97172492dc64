#!/usr/bin/env bash
# What launch/tpu_pod.sh runs on each worker of a pod, through gcloud ssh,
# in the checkout it copied to ~/stylegan_seg_jax:
#
#   bash launch/pod_worker.sh setup        # Python, .venv; stops an old run
#   bash launch/pod_worker.sh start RUN_ID WORKER COMMAND [flags]
#   bash launch/pod_worker.sh state        # one line: this worker's run
#   bash launch/pod_worker.sh log [LINES]  # the end of this worker's log
#   bash launch/pod_worker.sh stop         # stops the run it started
#   bash launch/pod_worker.sh find-python  # the interpreter setup would use
#
# setup: stops the run this launcher started here before (the pid in
# .run.pid, checked to be one of ours), removes the libtpu lockfile, finds
# a released CPython >= 3.11 (PYTHON, python3.11, ..., python3; a release
# candidate such as Ubuntu 22.04's apt python3.11 3.11.0~rc1 is skipped),
# else installs one with uv (a standalone CPython build), creates .venv
# with the pinned requirements and, with ACCELERATOR=tpu (the default),
# jax[tpu] of the pinned jax version. Fails with one line when it cannot.
#
# start: runs `.venv/bin/python -m stylegan_seg_jax COMMAND` with
# distributed init on, detached from the ssh session (setsid, nohup): a
# dropped connection or a closed laptop does not end it. Its output is
# appended to logs/run.log, its pid is in .run.pid and its exit status goes
# to .run.exit when it ends. Idempotent per RUN_ID: gcloud retries a
# command whose ssh exits 255, and a retried start of a run that already
# started here (running or ended) starts nothing.
#
# state: `worker=I run=RUN_ID state=running pid=P`, `... state=exited
# code=N` or `worker=? run=none state=none`.
set -euo pipefail
cd "$(dirname "$0")/.."
PID_FILE=.run.pid
RUN_FILE=.run.id
EXIT_FILE=.run.exit
WORKER_FILE=.run.worker
SUPERVISOR_FILE=.run.supervisor
LOG=logs/run.log

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# A process's identity: its pid and start time (field 22 of
# /proc/PID/stat), so that a pid reused after a restart is not taken for
# ours.
identity() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # (after the command name, which may hold spaces: field 22 is the 20th)
  echo "$1 $(awk '{print $20}' <<< "${stat##*) }")"
}
# live FILE WORD: the pid recorded in FILE if that very process still runs
# (same start time) and its command line has WORD.
live() {
  [ -f "$1" ] || return 1
  local pid recorded
  read -r pid recorded < "$1" || true
  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(identity "$pid")" = "$pid $recorded" ] \
      && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null \
         | grep -q -- "$2" && echo "$pid"
}
# The tool this launcher started here, and the process that supervises it.
live_pid() { live "$PID_FILE" '-m stylegan_seg_jax'; }
live_supervisor() { live "$SUPERVISOR_FILE" 'pod_worker.sh supervise'; }

alive() {  # a process that has not exited (a zombie has)
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$(awk '{print $1}' <<< "${stat##*) }")" != Z ]
}

signal_pid() {  # signal_pid SIGNAL PID: as ourselves, else as root
  kill "-$1" "$2" 2>/dev/null || as_root kill "-$1" "$2" 2>/dev/null || true
}

# SIGTERM, then SIGKILL after 3 s: under jax.distributed the tool does not
# exit on SIGTERM (jax's preemption notifier takes it), and every file it
# writes is atomic, so a kill loses only unsaved work.
terminate() {
  signal_pid TERM "$1"
  for _ in $(seq 15); do
    alive "$1" || return 0
    sleep 0.2
  done
  signal_pid KILL "$1"
  sleep 0.5
  if alive "$1"; then
    echo "pod_worker: error: cannot stop pid $1 (not ours, and no sudo?)" >&2
    exit 1
  fi
}

stop_previous() {
  local pid
  if pid=$(live_pid); then
    echo "stopping the previous run (pid $pid)"
    terminate "$pid"  # its supervisor records the exit status
  elif pid=$(live_supervisor); then
    echo "stopping the previous run before its start (pid $pid)"
    terminate "$pid"
    [ -f "$EXIT_FILE" ] || echo 143 > "$EXIT_FILE"
  fi
  rm -f "$PID_FILE"
}

# A released CPython >= 3.11 with venv and ensurepip.
python_ok() {
  "$1" -c 'import sys, ensurepip, venv
v = sys.version_info
sys.exit(v < (3, 11) or v.releaselevel != "final")' 2> /dev/null
}

find_python() {
  local cand
  for cand in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" > /dev/null 2>&1 && python_ok "$cand"; then
      command -v "$cand"
      return 0
    fi
  done
  return 1
}

setup() {
  stop_previous
  as_root rm -f /tmp/libtpu_lockfile
  local py="" uv="$HOME/.local/bin/uv"
  py=$(find_python) || py=""
  if [ -z "$py" ]; then
    # Ubuntu 22.04 TPU images ship 3.10 and an apt python3.11 that is a
    # release candidate: take a standalone CPython build through uv.
    echo "installing CPython 3.11 with uv"
    if { command -v uv > /dev/null 2>&1 && uv=$(command -v uv); } \
        || python3 -m pip install -q --user uv > /dev/null 2>&1; then
      "$uv" python install 3.11 > /dev/null 2>&1 || true
      py=$("$uv" python find 3.11 2> /dev/null) || py=""
      if [ -n "$py" ] && ! python_ok "$py"; then py=""; fi
    fi
  fi
  if [ -z "$py" ]; then
    echo "pod_worker: error: no released CPython >= 3.11 on $(hostname), and uv could not install one; install it and set PYTHON" >&2
    exit 1
  fi
  echo "python: $py ($("$py" --version 2>&1))"
  PYTHON="$py" bash launch/setup_env.sh
  if [ "${ACCELERATOR:-tpu}" = tpu ]; then
    local version
    version=$(.venv/bin/python -c 'import jax; print(jax.__version__)')
    if [ "$(cat .venv/.installed-tpu 2>/dev/null)" != "$version" ]; then
      .venv/bin/python -m pip install -q --disable-pip-version-check \
          "jax[tpu]==$version" \
          -f https://storage.googleapis.com/jax-releases/libtpu_releases.html
      echo "$version" > .venv/.installed-tpu
    fi
  fi
  echo "setup done on $(hostname)"
}

state() {
  local run worker pid
  run=$(cat "$RUN_FILE" 2>/dev/null || echo none)
  worker=$(cat "$WORKER_FILE" 2>/dev/null || echo '?')
  if pid=$(live_pid); then
    echo "worker=$worker run=$run state=running pid=$pid"
  elif [ ! -f "$EXIT_FILE" ] && pid=$(live_supervisor); then
    echo "worker=$worker run=$run state=running pid=$pid"  # starting
  elif [ -f "$EXIT_FILE" ]; then
    echo "worker=$worker run=$run state=exited code=$(cat "$EXIT_FILE")"
  elif [ "$run" != none ]; then
    # Started, but neither running nor ended: the machine restarted (a
    # preemption) or the run was killed with its supervisor.
    echo "worker=$worker run=$run state=lost"
  else
    echo "worker=$worker run=none state=none"
  fi
}

# The detached part of `start`: runs the tool and records how it ended.
supervise() {
  local command=$1
  shift
  identity $$ > "$SUPERVISOR_FILE"
  export STYLEGAN_SEG_JAX_DISTRIBUTED=1
  .venv/bin/python -m stylegan_seg_jax "$command" "$@" &
  local pid=$!
  identity "$pid" > "$PID_FILE.tmp" && mv "$PID_FILE.tmp" "$PID_FILE"
  local code=0
  wait "$pid" || code=$?
  echo "$code" > "$EXIT_FILE.tmp" && mv "$EXIT_FILE.tmp" "$EXIT_FILE"
}

start() {
  local run=$1 worker=$2
  shift 2
  if ! [[ "$run" =~ ^[A-Za-z0-9_.-]+$ && "$worker" =~ ^[0-9]+$ ]]; then
    echo "pod_worker: error: bad run id or worker index" >&2
    exit 2
  fi
  # One start at a time (gcloud may retry while a start still runs).
  exec 9> .run.lock
  flock 9
  if [ "$(cat "$RUN_FILE" 2>/dev/null)" = "$run" ] \
      && { live_supervisor > /dev/null || [ -f "$EXIT_FILE" ]; }; then
    echo "run $run already started here: $(state)"
    return 0
  fi
  stop_previous
  rm -f "$EXIT_FILE" "$SUPERVISOR_FILE"
  echo "$worker" > "$WORKER_FILE"
  mkdir -p logs
  echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) run $run on worker $worker: $*" >> "$LOG"
  # Recorded before the tool starts: a retried start sees it at once.
  echo "$run" > "$RUN_FILE.tmp" && mv "$RUN_FILE.tmp" "$RUN_FILE"
  setsid nohup bash launch/pod_worker.sh supervise "$@" >> "$LOG" 2>&1 \
      < /dev/null &
  for _ in $(seq 100); do
    [ -f "$SUPERVISOR_FILE" ] && break
    sleep 0.1
  done
  echo "started run $run on worker $worker: $(state)"
}

case "${1:-}" in
  setup)
    setup ;;
  start)
    if [ $# -lt 4 ]; then
      echo "usage: $0 start RUN_ID WORKER COMMAND [flags]" >&2
      exit 2
    fi
    shift
    start "$@" ;;
  supervise)
    shift
    supervise "$@" ;;
  state)
    state ;;
  log)
    lines=${2:-50}
    [[ "$lines" =~ ^[0-9]+$ ]] || { echo "usage: $0 log [LINES]" >&2; exit 2; }
    if [ -f "$LOG" ]; then tail -n "$lines" "$LOG"; fi ;;
  stop)
    stop_previous
    state ;;
  find-python)
    find_python ;;
  *)
    echo "usage: $0 setup | start RUN_ID WORKER COMMAND [flags] | state | log [LINES] | stop | find-python" >&2
    exit 2 ;;
esac

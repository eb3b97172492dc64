#!/usr/bin/env bash
# Multi-host runs on a SLURM cluster (GPUs or CPUs); docs/slurm.md is the
# walkthrough.
#
#   bash launch/slurm.sh setup                  # once, on a login node
#   sbatch [options] launch/slurm.sbatch COMMAND [flags]
#   bash launch/slurm.sh task COMMAND [flags]   # what each task runs
#
# setup: creates the checkout's .venv (launch/setup_env.sh) and, with
#   ACCELERATOR=gpu (the default), adds jax's CUDA 12 plugin of the pinned
#   jax version. The checkout and its .venv must be on a filesystem every
#   node sees (so must the workdir, or it is a gs:// URL).
# task: one process of the run (one per GPU): checks that it runs under
#   srun, then runs `.venv/bin/python -m stylegan_seg_jax COMMAND` with
#   distributed init on; jax reads the coordinator (the first node of the
#   step, a port derived from the job id), the process count and this
#   process's id from SLURM's environment, and gives each process the GPU
#   of its local rank.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  setup)
    bash launch/setup_env.sh
    if [ "${ACCELERATOR:-gpu}" = gpu ]; then
      version=$(.venv/bin/python -c 'import jax; print(jax.__version__)')
      .venv/bin/python -m pip install -q --disable-pip-version-check \
          "jax[cuda12]==$version"
    fi
    echo "setup done: $(.venv/bin/python --version), jax $(.venv/bin/python -c 'import jax; print(jax.__version__)')" ;;
  task)
    shift
    [ $# -ge 1 ] || { echo "usage: $0 task COMMAND [flags]" >&2; exit 2; }
    for var in SLURM_JOB_ID SLURM_STEP_NODELIST SLURM_NTASKS SLURM_PROCID \
               SLURM_LOCALID; do
      if [ -z "${!var:-}" ]; then
        echo "slurm: error: $var is not set: run tasks with srun inside a job (sbatch launch/slurm.sbatch ...)" >&2
        exit 2
      fi
    done
    [ -x .venv/bin/python ] || { echo "slurm: error: no .venv in $PWD on $(hostname): run bash launch/slurm.sh setup on a login node (the checkout must be on a shared filesystem)" >&2; exit 1; }
    export STYLEGAN_SEG_JAX_DISTRIBUTED=1
    exec .venv/bin/python -m stylegan_seg_jax "$@" ;;
  *)
    echo "usage: $0 setup | task COMMAND [flags]   (jobs: sbatch launch/slurm.sbatch COMMAND [flags])" >&2
    exit 2 ;;
esac

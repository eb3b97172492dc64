#!/usr/bin/env bash
# Creates .venv (if missing), installs the pinned requirements into it and
# the package itself, editable (so .venv/bin/stylegan-seg runs this checkout).
#   bash launch/setup_env.sh          # runtime requirements
#   bash launch/setup_env.sh --test   # plus the test-only requirements
# Idempotent: a second run reuses the environment and installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
too_old='import sys; sys.exit(sys.version_info < (3, 11))'
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -c "$too_old" 2> /dev/null; then
    echo "setup_env: error: $PYTHON is not Python >= 3.11 ($("$PYTHON" --version 2>&1 || echo missing)); set PYTHON=python3.11" >&2
    exit 1
  fi
  "$PYTHON" -m venv .venv
elif ! .venv/bin/python -c "$too_old"; then
  echo "setup_env: error: .venv has $(.venv/bin/python --version 2>&1); the pinned packages need >= 3.11: delete .venv and rerun with PYTHON=python3.11" >&2
  exit 1
fi
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
# What was installed last, so that an unchanged environment costs no pip
# run (a pod worker is set up again at every launch).
# (The test requirements include the runtime ones.)
stamp=.venv/.installed
draggan=draggan==1.1.6  # test-only, without its dependencies
hash=$({ cat requirements*.txt; echo "$draggan"; .venv/bin/python -V; } \
    | sha256sum | cut -c1-16)
want="${1:-runtime} $hash"
have=$(cat "$stamp" 2>/dev/null || true)
if [ "$have" != "$want" ] && [ "$have" != "--test $hash" ]; then
  if [ "${1:-}" = "--test" ]; then
    "${PIP[@]}" -r requirements-test.txt
    "${PIP[@]}" --no-deps "$draggan"
  else
    "${PIP[@]}" -r requirements.txt
  fi
  echo "$want" > "$stamp"
fi
# The `stylegan-seg` command, pointing at this checkout (no dependencies:
# they are the pinned ones above; no build isolation: no download).
if [ ! -x .venv/bin/stylegan-seg ]; then
  "${PIP[@]}" --no-deps --no-build-isolation -e .
fi

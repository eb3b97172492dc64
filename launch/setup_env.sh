#!/usr/bin/env bash
# Creates .venv (if missing) and installs the pinned requirements into it.
#   bash launch/setup_env.sh          # runtime requirements
#   bash launch/setup_env.sh --test   # plus the test-only requirements
# Idempotent: a second run reuses the environment and installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if [ "${1:-}" = "--test" ]; then
  "${PIP[@]}" -r requirements-test.txt
  "${PIP[@]}" --no-deps draggan==1.1.6
else
  "${PIP[@]}" -r requirements.txt
fi

#!/usr/bin/env bash
# The test suite, exactly as CI runs it: set up .venv with the test
# requirements, then run pytest on the CPU (8 forced host devices).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup_env.sh --test
exec .venv/bin/python -m pytest -q tests "$@"

#!/usr/bin/env bash
# The checks, exactly as CI runs them: set up .venv with the test
# requirements, lint the tree (ruff, docstrings included), type-check the
# package (pyright; both configured in pyproject.toml), then run pytest on
# the CPU (8 forced host devices). Extra arguments go to pytest:
#   bash launch/run_tests.sh -m fast     # the quick subset
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup_env.sh --test
.venv/bin/ruff check .
.venv/bin/pyright
exec .venv/bin/python -m pytest -q --durations=15 tests "$@"

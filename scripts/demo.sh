#!/usr/bin/env bash
# The README's first command: install what is missing (safe to run again), then run the main job
# — the whole pipeline on this machine, on the embedded ClickHouse engine, with a live synthetic feed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/pxstream demo "$@"

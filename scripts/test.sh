#!/usr/bin/env bash
# The README's test command and CI's (`.ci/run`): set up, lint, run every test.
# Integration tests use the real parts: a Kafka broker that answers at PXSTREAM_KAFKA_BOOTSTRAP
# (default localhost:9092) is reused, otherwise the tests start one from $PXSTREAM_DATA_DIR and this
# script stops it again afterwards. Extra arguments go to pytest (e.g. `scripts/test.sh -k broker`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PXSTREAM_DATA_DIR="${PXSTREAM_DATA_DIR:-./.pxstream}"

./scripts/setup.sh

echo "test: ruff check"
.venv/bin/ruff check .
echo "test: ruff format --check"
.venv/bin/ruff format --check .

broker_was_up=0
if .venv/bin/python -c 'import sys
from infra.broker import kafka_answers
from schemas.settings import Settings
sys.exit(0 if kafka_answers(Settings.from_env().kafka_bootstrap) else 1)'; then
    broker_was_up=1
fi

echo "test: pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e

if [ "$broker_was_up" -eq 0 ]; then
    # Only what this data dir started is stopped (pid files); a broker someone else runs stays up.
    .venv/bin/pxstream infra down kafka || true
fi

if [ "$status" -eq 5 ]; then
    echo "test: pytest collected no tests — that is a failure, not a pass" >&2
    exit 1
fi
exit "$status"

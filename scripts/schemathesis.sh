#!/usr/bin/env bash
# Schemathesis (issue 17) against the running service with its embedded sandbox: the cases it
# generates from GET /api/openapi.json (examples, coverage, fuzzing and stateful phases, in
# positive and negative mode) must get no 5xx, only documented statuses and content types,
# and answers that hold to their schemas. Exits non-zero on any failure.
#
# Makes its own virtual environment (target/schemathesis/venv, schemathesis from PyPI, pinned),
# a fresh database on the test PostgreSQL (127.0.0.1, user postgres; TEST_DATABASE_URL overrides
# the server), starts `target/debug/carat-merchant serve` (`cargo build`: nothing to do after the tests)
# in the local profile on a free port, and removes the database and the process on exit.
#
#   scripts/schemathesis.sh            # about 2 minutes (SCHEMATHESIS_MAX_TIME, seconds)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

VERSION=4.32.5
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-100}
# A fixed seed, so that CI's run is the same each time and a failure can be replayed. Unseeded
# runs explore more (SCHEMATHESIS_SEED=random): one listed a bill by a well-formed bar code that
# Carat does not know, and got 502 carat_refused. Only Carat knows its bills, so that 5xx does
# reflect Carat, but not_a_server_error counts it: telling "Carat refused the storefront's
# data" (a 4xx) from "Carat failed" is open work (docs/openapi.md).
SEED=${SCHEMATHESIS_SEED:-225926371563284690668739585063267961046}
SERVER=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
SERVER=${SERVER%/}
TOKEN=schemathesis-token
BIN=target/debug/carat-merchant
VENV=target/schemathesis/venv
work=$(mktemp -d)
database="carat_schemathesis_$$"
pid=""

cleanup() {
  status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ] && [ -s "$work/service.log" ]; then
    echo "--- the service's last log lines ($work/service.log) ---"
    tail -n 40 "$work/service.log"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT INT TERM

if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$VERSION"; then
  log "schemathesis $VERSION into $VENV (PyPI)"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION"
fi

log "cargo build (the service binary; nothing to do when the tests built it)"
cargo build --locked --quiet --bin carat-merchant

log "A fresh database: $database"
psql -q "$SERVER/postgres" -c "CREATE DATABASE $database" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
log "carat-merchant serve on $base (local profile, embedded sandbox)"
APP_PROFILE=local LISTEN_ADDR="127.0.0.1:$port" DATABASE_URL="$SERVER/$database" \
  API_TOKENS="$TOKEN" LOG_FORMAT=json RUST_LOG=warn \
  "$BIN" serve >"$work/service.log" 2>&1 &
pid=$!
ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  "$base/health/ready" 2>/dev/null; }
for _ in $(seq 1 300); do
  ready && break
  kill -0 "$pid" 2>/dev/null || { echo "the service stopped"; exit 1; }
  sleep 0.1
done
ready || { echo "the service is not ready after 30 s"; exit 1; }

# A generated Idempotency-Key is short ("0", "00"...) and comes back with other bodies, which
# is a 422 `idempotency_key_reused` every time: a well-formed one is made unique, so the cases
# reach the routes themselves. Malformed ones are kept (their 400 is checked too).
cat >"$work/hooks.py" <<'PY'
import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(context, case, **kwargs):
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and WELL_FORMED.fullmatch(key):
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
PY

log "schemathesis run (at most ${MAX_TIME}s)"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$work" \
"$VENV/bin/schemathesis" run "$base/api/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing,stateful \
  --max-time "$MAX_TIME" \
  $([ "$SEED" = random ] || echo --seed "$SEED") \
  --request-timeout 10 \
  --report junit,har --report-dir "${SCHEMATHESIS_REPORT_DIR:-$work/report}" \
  --warnings off
log "schemathesis: no failures"

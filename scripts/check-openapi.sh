#!/usr/bin/env bash
# The OpenAPI document against the tools its users run (issue 17):
#   1. `redocly lint` (recommended-strict: a warning fails too; clients/redocly.yaml);
#   2. `openapi-typescript` generates clients/typescript/schema.d.ts from it;
#   3. `tsc --noEmit` type-checks a whole top-up written against that client
#      (clients/typescript/topup.ts).
# The tools are npm packages pinned by clients/package-lock.json, installed with `npm ci` into
# clients/node_modules. Starts nothing: the document comes from the file given as the first
# argument, or from `cargo run --quiet -- openapi` (the binary prints it; no configuration,
# no database). Needs node and npm (installed from Debian's packages when missing).
#
#   scripts/check-openapi.sh [openapi.json]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

if ! command -v npm >/dev/null; then
  log "Installing node and npm (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi

# At a fixed path (git ignores it): clients/.redocly.lint-ignore.yaml names the file.
document=clients/openapi.json
if [ $# -ge 1 ]; then
  cp "$1" "$document"
else
  log "The document: cargo run --quiet -- openapi"
  cargo run --quiet --locked -- openapi >"$document"
fi

log "npm ci (clients/package-lock.json: @redocly/cli, openapi-typescript, typescript)"
(cd clients && npm ci --no-audit --no-fund --loglevel=error)
export PATH="$PWD/clients/node_modules/.bin:$PATH"
# Redocly's telemetry and update check stay off in CI.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

log "redocly lint"
redocly lint --config clients/redocly.yaml "$document"

log "openapi-typescript -> clients/typescript/schema.d.ts"
openapi-typescript "$document" --output clients/typescript/schema.d.ts \
  --redocly clients/redocly-generate.yaml

log "tsc --noEmit (clients/typescript/topup.ts against the generated client)"
tsc --noEmit --project clients/typescript/tsconfig.json
log "The OpenAPI document passed redocly, openapi-typescript and tsc"

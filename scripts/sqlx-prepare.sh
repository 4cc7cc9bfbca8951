#!/usr/bin/env bash
# The compile-checked SQL's offline data (`.sqlx/`), made from the migrations and the statements
# themselves, without sqlx-cli: the store crate is checked against a fresh database migrated
# from migrations/, and sqlx's macros write one file per statement into a scratch folder.
#
#   scripts/sqlx-prepare.sh          rewrite .sqlx/ (after changing a statement or a migration)
#   scripts/sqlx-prepare.sh --check  fail, naming the files, when .sqlx/ is stale (CI)
#
# Needs PostgreSQL on 127.0.0.1:5432 with trust login for postgres (scripts/ensure-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

db="sqlx_prepare_$$"
admin=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
scratch=$(mktemp -d)
cleanup() {
  "${admin[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

"${admin[@]}" -d postgres -c "CREATE DATABASE $db"
for migration in migrations/*.sql; do
  "${admin[@]}" -d "$db" -f "$migration" >/dev/null
done

# The macros expand again only when the crate is rebuilt; every statement lives in the store.
touch crates/store/src/lib.rs
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$scratch" \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
  cargo check --locked --quiet -p carat-store
touch crates/store/src/lib.rs

if $check; then
  if ! diff -r -q .sqlx "$scratch" >/dev/null 2>&1; then
    echo "sqlx: .sqlx/ is stale against migrations/ and the statements:" >&2
    diff -r -q .sqlx "$scratch" >&2 || true
    echo "run scripts/sqlx-prepare.sh and commit .sqlx/" >&2
    exit 1
  fi
  echo "sqlx: .sqlx/ matches the migrations and the statements ($(ls "$scratch" | wc -l) statements)"
else
  rm -rf .sqlx
  mkdir -p .sqlx
  cp "$scratch"/query-*.json .sqlx/ 2>/dev/null || true
  echo "sqlx: wrote $(ls .sqlx | wc -l) statements to .sqlx/"
fi

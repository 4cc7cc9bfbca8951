#!/usr/bin/env bash
# The Dockerfile's full multi-stage build (build stage included), with Debian's podman, on
# images made here: Docker Hub and rustup's downloads are not reachable from these machines.
#   * debian:bookworm-slim: the debootstrapped base of scripts/container-check.sh;
#   * rust:1.95-slim-bookworm: that base with gcc and libc6-dev (ring compiles C and assembly;
#     rustc links with cc) and the host's own Rust toolchain copied in (its documentation left
#     out). It must be the version the Dockerfile names.
# Crates come from crates.io, which is reachable. Not in .ci/run: about 6 minutes on 2 cores.
#
#   scripts/container-build-full.sh [TAG]   # default localhost/carat-merchant:full; kept
#
# The image is left for you (`podman run ... TAG`, `podman rmi TAG`); the two base images and
# the intermediate layers are removed on exit, failed or not.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
fail() { echo "container-build-full: $*" >&2; exit 1; }

TAG=${1:-localhost/carat-merchant:full}
CACHE=target/container
BASE_IMAGE=docker.io/library/debian:bookworm-slim
RUST_VERSION=$(sed -n 's/^FROM rust:\([0-9.]*\)-slim-bookworm AS build$/\1/p' Dockerfile)
BUILDER_IMAGE=docker.io/library/rust:$RUST_VERSION-slim-bookworm
CONTEXT=$CACHE/builder.$$

cleanup() {
  local code=$?
  set +e
  podman rmi -f "$BUILDER_IMAGE" "$BASE_IMAGE" >/dev/null 2>&1
  rm -rf "$CONTEXT"
  exit "$code"
}
trap cleanup EXIT

[ -n "$RUST_VERSION" ] || fail "the Dockerfile's build stage does not name rust:<version>-slim-bookworm"
host_version=$(rustc --version | awk '{print $2}')
[[ "$host_version" == "$RUST_VERSION" || "$host_version" == "$RUST_VERSION".* ]] \
  || fail "the host's rustc is $host_version, the Dockerfile wants $RUST_VERSION"

start=$SECONDS
# The base, the tools (podman, runc...) and CONTAINERS_CONF's file: the check's own steps.
scripts/container-check.sh --base-only
export CONTAINERS_CONF=$PWD/$CACHE/containers.conf
nofile=$(sed -n 's/.*"nofile=\([0-9]*\):.*/\1/p' "$CONTAINERS_CONF")
nproc=$(sed -n 's/.*"nproc=\([0-9]*\):.*/\1/p' "$CONTAINERS_CONF")
ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
BUILD=(podman build --pull=never --format docker --network host "${ULIMITS[@]}")

log "Builder image $BUILDER_IMAGE: the base, gcc, and the host's toolchain $host_version"
mkdir -p "$CONTEXT"
# Hard links: the toolchain is not copied (same file system), and its docs are dropped.
cp -al "$(rustc --print sysroot)" "$CONTEXT/rust"
rm -rf "$CONTEXT/rust/share/doc"
# The host's own extra certificate authorities (these machines reach crates.io through a proxy
# that presents its own CA): cargo in the builder trusts what the host trusts.
mkdir -p "$CONTEXT/extra-ca"
cp /usr/local/share/ca-certificates/*.crt "$CONTEXT/extra-ca/" 2>/dev/null || true
cat >"$CONTEXT/Containerfile" <<'EOF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY rust /usr/local/rust
ENV PATH=/usr/local/rust/bin:/usr/local/cargo/bin:$PATH CARGO_HOME=/usr/local/cargo
RUN cargo --version && rustc --version
EOF
"${BUILD[@]}" --layers=false -q -t "$BUILDER_IMAGE" -f "$CONTEXT/Containerfile" "$CONTEXT" >/dev/null
rm -rf "$CONTEXT"
log "Builder ready ($((SECONDS - start)) s)"

log "Full build of the Dockerfile as $TAG"
build_start=$SECONDS
"${BUILD[@]}" --layers=false -t "$TAG" -f Dockerfile .
log "Built $TAG in $((SECONDS - build_start)) s ($((SECONDS - start)) s with the base images)"
podman image inspect --format 'size {{.Size}} bytes; HEALTHCHECK {{json .Config.Healthcheck}}' "$TAG"
podman run --rm --pull=never "${ULIMITS[@]}" --no-healthcheck "$TAG" --version

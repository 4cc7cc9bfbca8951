#!/usr/bin/env bash
# The container, checked for real with Debian's podman (issue 17, item 11): builds the
# Dockerfile's runtime stage around the binaries cargo already built, on a Debian bookworm base
# made locally with debootstrap (Docker Hub is not reachable); starts it in the image's own
# production profile against the test PostgreSQL, with the image's carat-sandbox playing Carat
# in a second container; requires the image's own HEALTHCHECK to pass, one top-up to be created
# through it, and a clean exit (code 0) on stop. Containers, images and the database are removed
# on every exit, failed or not.
#
#   scripts/container-check.sh [BINARY_DIR]   # default target/debug (cargo test's build)
#   scripts/container-check.sh --base-only     # just tag the base image (container-build-full.sh)
#
# The podman snags of these machines, each with its fix (docs/docker.md):
#   * crun and the default ulimits fail here: CONTAINERS_CONF names runc, and nofile/nproc
#     ulimits within this machine's hard limits;
#   * podman would try to pull debian:bookworm-slim from Docker Hub: --pull=never, the base is
#     the debootstrapped one, tagged with that name;
#   * podman's default OCI image format silently drops HEALTHCHECK: --format docker.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
fail() { echo "container-check: $*" >&2; exit 1; }

CACHE=target/container
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_TAR=$CACHE/debian-$SUITE-minbase.tar
# The names the Dockerfile's FROM lines use, so that --pull=never finds them locally.
BASE_IMAGE=docker.io/library/debian:bookworm-slim
RUN_ID=$$-$RANDOM
IMAGE=localhost/carat-merchant-check:$RUN_ID
SERVICE=carat-check-service-$RUN_ID
SANDBOX=carat-check-sandbox-$RUN_ID
DB=carat_container_check_${RUN_ID//-/_}
GRACE_SECS=45 # SHUTDOWN_GRACE_MS (35 s) plus a margin, as in docker-compose.yml

ensure_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v runc >/dev/null || missing+=(runc)
  command -v newuidmap >/dev/null || missing+=(uidmap)
  command -v fuse-overlayfs >/dev/null || missing+=(fuse-overlayfs)
  command -v slirp4netns >/dev/null || missing+=(slirp4netns)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]})); then
    log "Installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# runc, and ulimits this machine can grant: the packaged defaults ask for more than its hard
# limits (root here lacks CAP_SYS_RESOURCE), and runc then fails with "error setting rlimit
# type 6 (nproc) / 7 (nofile): operation not permitted". podman itself runs with nproc 32768
# at most, so the runtime it starts cannot set more.
write_containers_conf() {
  mkdir -p "$CACHE"
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
  # podman build's RUN steps and podman run do not always take containers.conf's ulimits (a
  # default of the engine wins): they are passed as flags too.
  ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
  cat >"$CACHE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF=$PWD/$CACHE/containers.conf
}

# A minimal bookworm made by debootstrap, kept as a tarball so that reruns only import it. The
# host's glibc is bookworm's, so a host-built binary runs on it.
ensure_base_image() {
  if [ ! -s "$BASE_TAR" ]; then
    log "Making a Debian $SUITE base with debootstrap (once; cached in $BASE_TAR)"
    local root=$CACHE/rootfs.$RUN_ID
    rm -rf "$root"
    debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$MIRROR" \
      >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; fail "debootstrap failed"; }
    # Only what an image needs: no apt lists or package caches.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
    rm -rf "$root"
  fi
  if ! podman image exists "$BASE_IMAGE"; then
    podman import --quiet "$BASE_TAR" "$BASE_IMAGE" >/dev/null
    IMPORTED_BASE=1
  fi
}

IMPORTED_BASE=0
cleanup() {
  local code=$?
  set +e
  if [ "$code" -ne 0 ] && podman container exists "$SERVICE" 2>/dev/null; then
    echo "--- the service's log (last 40 lines)" >&2
    podman logs --tail 40 "$SERVICE" >&2
  fi
  podman rm -f -t 0 "$SERVICE" "$SANDBOX" >/dev/null 2>&1
  podman rmi -f "$IMAGE" >/dev/null 2>&1
  [ "$IMPORTED_BASE" = 1 ] && podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1
  rm -rf "$CACHE/context.$RUN_ID" "$CACHE/rootfs.$RUN_ID"
  psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  exit "$code"
}

# Without systemd, podman cannot schedule the periodic healthcheck timer and says so on every
# run and stop; the check runs the HEALTHCHECK itself (podman healthcheck run).
quiet_systemd() { "$@" 2> >(grep -v 'systemd connection' >&2); }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ensure_tools
write_containers_conf
trap cleanup EXIT
if [ "${1:-}" = --base-only ]; then
  ensure_base_image
  IMPORTED_BASE=0 # left for the caller, which removes it
  exit 0
fi

BIN_DIR=${1:-target/debug}
for b in carat-merchant carat-sandbox; do
  [ -x "$BIN_DIR/$b" ] || fail "$BIN_DIR/$b is missing: run cargo test (or cargo build) first"
done

start=$SECONDS
ensure_base_image
log "Base image ready ($((SECONDS - start)) s)"

# The runtime stage around the host's binaries: a named build context `build`, holding them
# where the build stage leaves its own, stands in for that stage, which is then skipped. The
# main context is empty: the runtime stage copies nothing else (and target/ stays out of it).
context=$CACHE/context.$RUN_ID
mkdir -p "$context/empty" "$context/build/src/target/release"
cp "$BIN_DIR/carat-merchant" "$BIN_DIR/carat-sandbox" "$context/build/src/target/release/"
log "Building the Dockerfile's runtime stage around $BIN_DIR's binaries"
podman build --quiet --pull=never --format docker --layers=false --network host "${ULIMITS[@]}" \
  --target runtime --build-context "build=$context/build" -f Dockerfile -t "$IMAGE" \
  "$context/empty" >/dev/null
healthcheck=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
[[ "$healthcheck" == *'/carat-merchant","health"]'* ]] || fail "the image has no HEALTHCHECK: $healthcheck"
log "Image built ($((SECONDS - start)) s); HEALTHCHECK: $healthcheck"

psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE $DB" >/dev/null
port=$(free_port)
sandbox_port=$(free_port)
merchant_key=CHECK$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
token=check-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Carat: the image's own sandbox, on the host's network like the service.
podman run -d --quiet --network host "${ULIMITS[@]}" --no-healthcheck --name "$SANDBOX" --entrypoint /usr/local/bin/carat-sandbox \
  "$IMAGE" --listen-addr "127.0.0.1:$sandbox_port" --merchant-id LOJACHECK \
  --merchant-key "$merchant_key" \
  --authenticity-url "http://127.0.0.1:$port/callbacks/authenticity" \
  --status-url "http://127.0.0.1:$port/callbacks/status" \
  --hash-url "http://127.0.0.1:$port/callbacks/hash" >/dev/null

# The image's production profile, with the six settings it requires and nothing of local.toml.
log "Starting the service (APP_PROFILE=production from the image) on 127.0.0.1:$port"
quiet_systemd podman run -d --quiet --network host "${ULIMITS[@]}" --name "$SERVICE" \
  -e DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  -e API_TOKENS="$token" \
  -e CARAT_BASE_URL="http://127.0.0.1:$sandbox_port/e-sitef" \
  -e CARAT_MERCHANT_ID=LOJACHECK \
  -e CARAT_MERCHANT_KEY="$merchant_key" \
  -e PIN_ENCRYPTION_KEYS="check:$(head -c 32 /dev/urandom | base64)" \
  -e LISTEN_ADDR="127.0.0.1:$port" \
  "$IMAGE" >/dev/null
[ "$(podman inspect --format '{{.Config.Env}}' "$SERVICE" | grep -o 'APP_PROFILE=[a-z]*')" = APP_PROFILE=production ] \
  || fail "the container does not run the production profile"

# The image's own HEALTHCHECK, run by podman (bounded: 60 s).
healthy=0
for _ in $(seq 1 120); do
  if podman healthcheck run "$SERVICE" >/dev/null 2>&1; then healthy=1; break; fi
  [ "$(podman inspect --format '{{.State.Running}}' "$SERVICE")" = true ] || break
  sleep 0.5
done
[ "$healthy" = 1 ] || fail "the HEALTHCHECK did not pass within 60 s"
log "HEALTHCHECK passed ($((SECONDS - start)) s): $(podman inspect --format '{{.State.Health.Status}}' "$SERVICE" 2>/dev/null || true)"

# One top-up's create through it: Carat (the sandbox) answers and POSTs the authenticity back.
api=http://127.0.0.1:$port/api/v1/recharges
unauthorized=$(curl -s -o /dev/null -D - -X POST "$api" | tr -d '\r' | grep -i '^www-authenticate:' || true)
[ "${unauthorized,,}" = "www-authenticate: bearer" ] || fail "a 401 without WWW-Authenticate: Bearer"
created=$(curl -s -w '\n%{http_code}' -X POST "$api" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"recharge_type":"normal"}')
[ "$(tail -n1 <<<"$created")" = 201 ] && grep -q '"status":"started"' <<<"$created" \
  || fail "creating a recharge through the container: $created"
log "A recharge was created through the container, Carat's sandbox answering"

# Stop: SIGTERM, then the grace period; a clean shutdown exits 0 well within it.
stop_start=$SECONDS
quiet_systemd podman stop -t "$GRACE_SECS" "$SERVICE" >/dev/null
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$SERVICE")
[ "$exit_code" = 0 ] || fail "the service exited $exit_code on stop"
service_log=$(podman logs "$SERVICE" 2>&1)
grep -q '"message":"drained; stopping"' <<<"$service_log" || fail "no drain line in the service's log"
log "Stopped cleanly: exit code 0 after $((SECONDS - stop_start)) s (grace ${GRACE_SECS} s)"
log "Container check passed in $((SECONDS - start)) s"

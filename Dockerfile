# syntax=docker/dockerfile:1
# Full build: scripts/container-build-full.sh. The runtime stage alone around binaries built on
# the host (scripts/container-check.sh): `--target runtime --build-context build=DIR`, DIR
# holding src/target/release/{carat-merchant,carat-sandbox}; the named context stands in for
# the build stage, which is then not built (checked with podman/buildah).

# Build: the release binary, with dependencies cached in their own layer.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# SQLX_OFFLINE=true: the SQL is checked against .sqlx/ (copied with the sources), no database.
COPY .cargo ./.cargo
COPY crates/domain/Cargo.toml crates/domain/
COPY crates/wire/Cargo.toml crates/wire/
COPY crates/sandbox/Cargo.toml crates/sandbox/
COPY crates/store/Cargo.toml crates/store/
COPY crates/core/Cargo.toml crates/core/
# Stubs stand in for every crate's sources (and for the bench target the manifest names:
# bench/run's top-up client), so that this layer builds the dependencies alone and is cached
# until a manifest or the lock file changes; the release build never compiles benches.
RUN mkdir -p src benches \
    && for c in domain wire sandbox store core; do mkdir -p crates/$c/src && touch crates/$c/src/lib.rs; done \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > crates/sandbox/src/main.rs \
    && echo 'fn main() {}' > benches/topups.rs \
    && cargo build --release --locked --workspace \
    && rm -rf src crates/*/src
COPY src ./src
COPY crates ./crates
COPY migrations ./migrations
COPY .sqlx ./.sqlx
# config/*.toml are compiled into the binary (include_str!).
COPY config ./config
# Touch so cargo rebuilds the crates themselves, not the cached stubs.
RUN find src crates -name '*.rs' -exec touch {} + && cargo build --release --locked --workspace

# Run: a small Debian with CA certificates (rustls verifies Carat's certificate against them),
# as a user without privileges.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin carat
WORKDIR /app
COPY --from=build /src/target/release/carat-merchant /usr/local/bin/carat-merchant
# The sandbox on its own (`docker run --entrypoint carat-sandbox ...`): a strict local Carat.
COPY --from=build /src/target/release/carat-sandbox /usr/local/bin/carat-sandbox
# No config/: config/*.toml are compiled into the binary. A directory mounted at /app/config
# (the working directory's `config`) overrides them key by key.
USER 10001
# The image runs the production profile: it refuses to start without DATABASE_URL, API_TOKENS,
# CARAT_BASE_URL, CARAT_MERCHANT_ID, CARAT_MERCHANT_KEY and PIN_ENCRYPTION_KEYS, and never
# embeds the sandbox unless SANDBOX=embedded is set. docker-compose.yml chooses the local
# profile for trials.
ENV APP_PROFILE=production \
    LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
# Readiness (database, migrations, reconciler) by the binary itself: the image has no curl or
# wget. `carat-merchant health` reads only LISTEN_ADDR (a wildcard is probed on loopback) and
# TLS_CERT_PATH (when set, HTTPS, accepting exactly that certificate), and exits 0 on a 200
# from /health/ready; `health --live` probes /health/live instead. Build with
# `--format docker` under podman/buildah: the OCI format drops HEALTHCHECK.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/carat-merchant", "health"]
ENTRYPOINT ["/usr/local/bin/carat-merchant"]
CMD ["serve"]

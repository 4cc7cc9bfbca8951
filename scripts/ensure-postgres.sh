# Sourced by .ci/run and bench/run: `ensure_postgres` makes sure PostgreSQL answers on
# 127.0.0.1:5432 with trust login for postgres, installing it from Debian's packages and
# starting it when it is not. Needs `log` (one line of progress) from the caller.

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_ready; then
    log "PostgreSQL is running"
  else
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "Installing PostgreSQL (Debian packages)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq postgresql postgresql-client >/dev/null
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    # Tests log in as postgres over TCP without a password, as on the developers' machines.
    if ! grep -Eq '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
      log "Allowing trust login on 127.0.0.1 for the tests"
      sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
      sed -i '1i host all all ::1/128 trust' "$hba"
    fi
    log "Starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start \
      || pg_ctlcluster --skip-systemctl-redirect "$version" main restart
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    pg_ready || { echo "PostgreSQL did not start" >&2; exit 1; }
  fi
}

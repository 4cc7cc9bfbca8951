#!/usr/bin/env python3
"""The measurements of `bench/run` (which builds, installs and starts what this needs first).

One run, one machine: the service (release build) with its embedded sandbox, PostgreSQL beside
it, and the load generators (wrk, pgbench, the `topups` bench) pinned to other cores than the
service's where there are at least two. It measures

  * the authenticity callback's whole path, each POST a real first commit for a recharge made
    beforehand, at each client count; and the same POSTs again (replays, answered as before);
  * PostgreSQL's own ceiling for the same work: the service's statement
    (crates/store/src/sql/commit_nit.sql) sent by pgbench at the same client counts, and the
    transaction the callback used to run (bench/pgbench/commit_nit_seven.sql);
  * the HTTP ceiling: GET /health/live of the same process under the same load;
  * whole top-ups per second through the storefront API, and the service's own time in one;
  * CPU per request of the service and of PostgreSQL, peak resident memory, start-up time;
  * a burst on the storefront API at 4x its capacity (API_MAX_CONCURRENCY): the latency of
    what is admitted against that at capacity, and how fast the rest is refused (503);

then prints one table and writes every figure to bench/results/<when>.json.
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "carat-merchant"
# bench/burst.rs, built by bench/run: latency by status, which wrk cannot split.
BURST = ROOT / "target" / "release" / "bench-burst"
RESULTS = ROOT / "bench" / "results"
PG_URL = "postgres://postgres@127.0.0.1:5432"
DB = "carat_bench"
TICK = os.sysconf("SC_CLK_TCK")
# How the service and pgbench alike reach PostgreSQL (set from --database-tls): loopback TCP,
# in clear by default, as a database beside the service usually is.
SSLMODE = ["disable"]
# The local profile's merchant id and storefront token: the bench runs that profile.
MERCHANT_ID = "LOJATESTE"
TOKEN = "local-dev-token"
GENERAL_HASH = "09A9681D09A9681D"
NIT_LIFETIME_MS = 900_000


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def psql(sql, db=DB):
    os.environ["PGSSLMODE"] = SSLMODE[0]
    return subprocess.run(
        ["psql", f"{PG_URL}/{db}", "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_sets():
    """(the service's cores, the load generators' cores) for taskset, or None on one core."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    half = len(cores) // 2
    as_list = lambda cs: ",".join(map(str, cs))
    return as_list(cores[:half]), as_list(cores[half:])


def pinned(cpus, argv):
    return (["taskset", "-c", cpus] if cpus else []) + argv


# --- CPU accounting from /proc ---------------------------------------------------------------

def proc_stat(pid):
    """utime, stime, cutime, cstime (seconds) and ppid of `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return [int(x) / TICK for x in fields[11:15]], int(fields[1])


def process_cpu(pid):
    (utime, stime, _, _), _ = proc_stat(pid)
    return utime + stime


def postmaster_pid():
    data_dir = psql("SHOW data_directory", "postgres")
    with open(Path(data_dir) / "postmaster.pid") as f:
        return int(f.readline())


def postgres_cpu(postmaster):
    """PostgreSQL's CPU seconds so far: the postmaster's own and its reaped children's, plus
    every live child's (a backend that exits moves from the second sum into the first). A
    child reaped while the children are read would be counted in neither: then read again."""
    while True:
        (u, s, cu, cs), _ = proc_stat(postmaster)
        live = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                (child_u, child_s, _, _), ppid = proc_stat(entry)
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if ppid == postmaster:
                live += child_u + child_s
        (u2, s2, cu2, cs2), _ = proc_stat(postmaster)
        if (cu2, cs2) == (cu, cs):
            return u2 + s2 + cu + cs + live


def memory_kib(pid, field):
    """`VmHWM` (the peak resident set so far) or `VmRSS` (now) of `pid`, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


# --- the service ------------------------------------------------------------------------------

class Service:
    def __init__(self, cpus, pool_size, log_path, log_filter="info", lane=None, capacity=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ,
            APP_PROFILE="local",
            DATABASE_URL=f"{PG_URL}/{DB}?sslmode={SSLMODE[0]}",
            LISTEN_ADDR=f"127.0.0.1:{self.port}",
            SANDBOX_LISTEN_ADDR=f"127.0.0.1:{free_port()}",
            DATABASE_MAX_CONNECTIONS=str(pool_size),
            **({"DATABASE_CALLBACK_CONNECTIONS": str(lane)} if lane else {}),
            **({"API_MAX_CONCURRENCY": str(capacity)} if capacity else {}),
            # As in production: one JSON line per event at info, to a file.
            LOG_FORMAT="json",
            LOG_FILTER=log_filter,
        )
        self.env.pop("RUST_LOG", None)
        self.cpus = cpus
        self.log_path = log_path
        self.process = None

    def start(self):
        """Starts the service; answers the seconds until /health/ready said 200."""
        started = time.monotonic()
        self.process = subprocess.Popen(
            pinned(self.cpus, [str(BIN), "serve"]),
            cwd=ROOT, env=self.env,
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
        )
        while time.monotonic() - started < 60:
            if self.process.poll() is not None:
                sys.exit(f"the service exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.002)
        sys.exit("the service was not ready within 60 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)

    @property
    def pid(self):
        return self.process.pid


# --- recharges waiting for their NIT -----------------------------------------------------------

def seed(first, count):
    """`count` recharges in `created`, numbered from `first`: order id B<i>, merchant USN i, and
    the NIT N<i padded to 64>. Scheduled far ahead, so the reconciler leaves them alone."""
    psql(
        "INSERT INTO recharges (id, recharge_type, order_id, merchant_usn, status, "
        "                       call_deadline, next_attempt_at) "
        "SELECT gen_random_uuid(), 'normal', 'B' || i, i, 'created', "
        "       now() + interval '1 day', now() + interval '1 day' "
        f"FROM generate_series({first}, {first + count - 1}) AS i"
    )


def committed_in(first, count):
    """Recharges of the range with their NIT, once the POSTs still in flight when the load
    generator stopped have landed (two equal counts in a row)."""
    def count_now():
        return int(psql(
            "SELECT count(*) FROM recharges WHERE status = 'started' "
            f"AND merchant_usn BETWEEN {first} AND {first + count - 1}"
        ))
    last, now = -1, count_now()
    while now != last:
        time.sleep(0.2)
        last, now = now, count_now()
    return now


def settle():
    """Before a measured run: statistics fresh, dirty pages written."""
    psql("VACUUM ANALYZE recharges")
    psql("VACUUM ANALYZE callbacks")
    psql("CHECKPOINT")


# --- what a top-up costs PostgreSQL ------------------------------------------------------------

# A backend sends its counts to pg_stat_database when a transaction ends at least a second after
# its last report, or after 10 s idle: read this long after the last statement, they are whole.
STATS_FLUSH_SECONDS = 11


def database_counts():
    """Transactions and rows written in the bench's database so far (as reported)."""
    row = psql("SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted "
               f"FROM pg_stat_database WHERE datname = '{DB}'")
    return [int(x) for x in row.split("|")]


def database_work_per_top_up(run, count):
    """Transactions and rows per top-up, one top-up at a time, with the reconciler off and the
    statistics flushed before and after. `run(n)` makes n top-ups; a few go first, so that
    each pooled connection has prepared its statements and the catalogue cache is warm."""
    run(3)
    time.sleep(STATS_FLUSH_SECONDS)
    before = database_counts()
    run(count)
    time.sleep(STATS_FLUSH_SECONDS)
    after = database_counts()
    # The first read is a transaction of its own, reported when its session ends.
    transactions, inserted, updated, deleted = [a - b for a, b in zip(after, before)]
    transactions -= 1
    return {"top_ups": count, "transactions": transactions / count,
            "rows_inserted": inserted / count, "rows_updated": updated / count,
            "rows_deleted": deleted / count,
            "rows_written": (inserted + updated + deleted) / count}


# --- wrk --------------------------------------------------------------------------------------

WRK_REPORT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d,"mean_us":%f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean))
end
"""

AUTHENTICITY_LUA = r"""
-- Request n POSTs the NIT of recharge FIRST + n (mod SPAN): a first commit each, or with a
-- SPAN of recharges already committed, a replay each.
local n = -1
request = function()
  n = n + 1
  local i = FIRST + (n %% SPAN)
  local body = string.format(
    "nit=N%%063d&merchantId=%s&orderId=B%%d&merchantUSN=%%d&generalHash=%s", i, i, i)
  return wrk.format("POST", "/callbacks/authenticity",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
""" % (MERCHANT_ID, GENERAL_HASH)


def wrk(url, connections, seconds, cpus, script=""):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + WRK_REPORT)
        path = f.name
    try:
        out = subprocess.run(
            pinned(cpus, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", path, url]),
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        os.unlink(path)
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    r = json.loads(line[len("WRKJSON "):])
    seconds = r["duration_us"] / 1e6
    return {
        "requests": r["requests"],
        "per_second": r["requests"] / seconds,
        "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
        "p999_ms": r["p999_us"] / 1000, "mean_ms": r["mean_us"] / 1000,
        "non_2xx": r["non_2xx"], "socket_errors": r["socket_errors"],
    }


# --- a burst on the storefront API -----------------------------------------------------------

def burst(service, path, connections, seconds, cpus):
    """bench/burst: `connections` storefront clients, each sending its next GET as soon as the
    last is answered (a refused one at once: the worst case for what is admitted)."""
    host = service.base.removeprefix("http://")
    out = subprocess.run(
        pinned(cpus, [str(BURST), host, path, TOKEN, str(connections), str(seconds)]),
        check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    r["requests"] = r["admitted"]["count"] + r["refused"]["count"] + r["other"]
    return r


def storefront_recharge(service):
    """A recharge made through the API, to GET in the burst."""
    request = urllib.request.Request(
        f"{service.base}/api/v1/recharges", data=b'{"recharge_type":"normal"}', method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)["id"]


# --- pgbench ----------------------------------------------------------------------------------

# What the service binds to commit_nit.sql's parameters, as pgbench sends them: per request
# from the recharge's number `i` (each client takes i = base + client_id + clients * n), the
# rest as -D variables. Only the NULL is spelt in the text.
PER_REQUEST = {
    1: "('B' || :i)",
    2: ":i",
    3: "('N' || lpad(:i::text, 63, '0'))",
    7: ("convert_to('nit=N' || lpad(:i::text, 63, '0') || '&merchantId=" + MERCHANT_ID
        + "&orderId=B' || :i || '&merchantUSN=' || :i || '&generalHash=" + GENERAL_HASH
        + "', 'UTF8')"),
    10: "NULL",
}
CONSTANTS = {
    4: ("ghash", GENERAL_HASH),
    5: ("lifetime", str(NIT_LIFETIME_MS)),
    6: ("kind", "authenticity"),
    8: ("ctype", "application/x-www-form-urlencoded"),
    9: ("source", "127.0.0.1:40000"),
    11: ("findings", "{committed,already_committed,no_recharge,not_waiting,conflict,nit_elsewhere}"),
    12: ("outcomes", "{accepted,accepted,unmatched,refused,refused,refused}"),
    13: ("statuses", "{200,200,404,404,409,409}"),
    14: ("reasons", '{NULL,NULL,"no create of this store is waiting for a NIT with this orderId '
                    'and merchantUSN","this create is no longer waiting for a NIT (it failed or '
                    'was given up)","this order already holds another NIT, or this NIT belongs to '
                    'another order","this order already holds another NIT, or this NIT belongs to '
                    'another order"}'),
    15: ("detail", json.dumps({"nit": "N" + "0" * 63, "merchantId": MERCHANT_ID,
                               "orderId": "B0", "merchantUSN": "0", "generalHash": GENERAL_HASH})),
    16: ("actor", "carat"),
    17: ("ev_callback", "callback"),
    18: ("ev_state", "state_change"),
}
COUNTER = "\\set n :n + 1\n\\set i :base + :client_id + :clients * :n\n"


def pgbench_script_of_the_service():
    """commit_nit.sql as pgbench sends it: comments dropped, each $k replaced."""
    sql = (ROOT / "crates" / "store" / "src" / "sql" / "commit_nit.sql").read_text()
    sql = re.sub(r"--[^\n]*", "", sql)
    placeholders = set(int(k) for k in re.findall(r"\$(\d+)", sql))
    missing = placeholders - PER_REQUEST.keys() - CONSTANTS.keys()
    if missing:
        sys.exit(f"commit_nit.sql has parameters bench.py does not fill: {sorted(missing)}")

    def fill(m):
        k = int(m.group(1))
        return PER_REQUEST[k] if k in PER_REQUEST else ":" + CONSTANTS[k][0]

    return COUNTER + re.sub(r"\$(\d+)", fill, sql).strip() + ";\n"


def pgbench(script, clients, seconds, cpus, base):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.sql"
        path.write_text(script)
        defines = [f"-D{name}={value}" for name, value in CONSTANTS.values()]
        defines += [f"-Dbase={base}", f"-Dclients={clients}", "-Dn=-1"]
        out = subprocess.run(
            pinned(cpus, ["pgbench", "-n", "-M", "prepared", f"-c{clients}", "-j1",
                          f"-T{seconds}", "-l", "--log-prefix", str(Path(tmp) / "log"),
                          *defines, "-f", str(path), f"{PG_URL}/{DB}"]),
            capture_output=True, text=True,
        )
        if out.returncode != 0:
            sys.exit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
        latencies = []
        for log_file in Path(tmp).glob("log*"):
            for line in log_file.read_text().splitlines():
                latencies.append(int(line.split()[2]))
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", out.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    latencies.sort()
    pct = lambda p: latencies[max(0, min(len(latencies) - 1, int(len(latencies) * p / 100)))] / 1000
    return {
        "requests": len(latencies), "per_second": tps,
        "p50_ms": pct(50), "p99_ms": pct(99), "p999_ms": pct(99.9),
        "mean_ms": sum(latencies) / len(latencies) / 1000,
        "failed": int(failed.group(1)) if failed else 0,
    }


# --- one measured run -------------------------------------------------------------------------

class Meter:
    """CPU seconds of the service and of PostgreSQL over one run."""

    def __init__(self, service_pid, postmaster):
        self.service_pid, self.postmaster = service_pid, postmaster

    def __enter__(self):
        self.service0 = process_cpu(self.service_pid)
        self.pg0 = postgres_cpu(self.postmaster)
        self.wall0 = time.monotonic()
        return self

    def __exit__(self, *_):
        # Connections the load generator dropped mid-request end their backends now.
        time.sleep(0.3)
        self.service = process_cpu(self.service_pid) - self.service0
        self.pg = postgres_cpu(self.postmaster) - self.pg0
        self.wall = time.monotonic() - self.wall0

    def per_request(self, result):
        n = max(result["requests"], 1)
        result["service_cpu_ms"] = self.service * 1000 / n
        result["postgres_cpu_ms"] = self.pg * 1000 / n
        return result


def perf_profile(pid, seconds, out_dir):
    """Where the service's CPU goes (perf record, flat): by object, then the top symbols.
    None where perf cannot sample here."""
    data = out_dir / "perf.data"
    try:
        subprocess.run(["perf", "record", "-q", "-F", "999", "-p", str(pid), "-o", str(data),
                        "--", "sleep", str(seconds)], check=True, capture_output=True)

        def report(sort, limit):
            out = subprocess.run(
                ["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", sort,
                 "--percent-limit", str(limit)],
                check=True, capture_output=True, text=True).stdout
            return [" ".join(l.split()) for l in out.splitlines()
                    if l.strip() and not l.startswith("#")]
        return {"by_object": report("dso", 1), "by_symbol": report("dso,symbol", 0.8)}
    except (FileNotFoundError, subprocess.CalledProcessError):
        return None
    finally:
        data.unlink(missing_ok=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--clients", default="16,64", help="connections, comma-separated")
    parser.add_argument("--pool", type=int, default=None,
                        help="DATABASE_MAX_CONNECTIONS (default: the service's own default)")
    parser.add_argument("--lane", type=int, default=None,
                        help="DATABASE_CALLBACK_CONNECTIONS (default: the service's own default)")
    parser.add_argument("--binary", default=None,
                        help="another build of the service to measure (e.g. an older commit's)")
    parser.add_argument("--callbacks-only", action="store_true",
                        help="only the HTTP ceiling and the callback runs (no pgbench, no top-ups)")
    parser.add_argument("--seed", type=int, default=100_000,
                        help="recharges made ready per callback run (must outlast it)")
    parser.add_argument("--topup-workers", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="perf record the service")
    parser.add_argument("--log-filter", default="info",
                        help="the service's LOG_FILTER (default info, as in production)")
    parser.add_argument("--capacity", type=int, default=None,
                        help="API_MAX_CONCURRENCY (default: the pool size; the service's own "
                             "default is 4 x the pool, see docs/benchmarks.md)")
    parser.add_argument("--database-tls", action="store_true",
                        help="the service and pgbench reach PostgreSQL over TLS (sslmode=require)")
    args = parser.parse_args()
    if args.binary:
        global BIN
        BIN = Path(args.binary).resolve()
    if args.database_tls:
        SSLMODE[0] = "require"
    clients = [int(c) for c in args.clients.split(",")]

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    service_log = RESULTS / f"{stamp}.service.log"
    cpus = cpu_sets()
    service_cpus, load_cpus = cpus if cpus else (None, None)
    pool = args.pool or int(re.search(
        r"database_max_connections\s*=\s*(\d+)",
        (ROOT / "config" / "default.toml").read_text()).group(1))

    # The burst's GET waits on nothing (no Carat call): its cost is CPU, and a closed loop at a
    # capacity of 4 x the pool (the service's default, sized for requests that wait on Carat)
    # would hold a run queue that a refusal waits behind too. The pool size fits it.
    capacity = args.capacity or pool

    log(f"fresh database {DB}")
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", "postgres")
    service = Service(service_cpus, pool, service_log, args.log_filter, args.lane, capacity)
    cold_start = service.start()
    service.stop()
    warm_starts = []
    for _ in range(3):
        warm_starts.append(service.start())
        service.stop()
    service.start()
    postmaster = postmaster_pid()
    results = {
        "when": stamp,
        "machine": {
            "cores": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
            "postgres": psql("SHOW server_version", "postgres"),
            "service_cores": service_cpus, "load_cores": load_cpus,
        },
        "settings": {"seconds": args.seconds, "pool": pool, "clients": clients,
                     "log_filter": args.log_filter, "lane": args.lane or "default",
                     "api_max_concurrency": capacity,
                     "sslmode": SSLMODE[0]},
        "startup": {"cold_to_ready_ms": cold_start * 1000,
                    "warm_to_ready_ms": sorted(warm_starts)[1] * 1000},
        "runs": {},
    }
    runs = results["runs"]

    def measured(name, run):
        log(name)
        settle()
        with Meter(service.pid, postmaster) as meter:
            result = run()
        runs[name] = meter.per_request(result)
        runs[name]["rss_after_mib"] = memory_kib(service.pid, "VmRSS") / 1024
        runs[name]["peak_rss_so_far_mib"] = memory_kib(service.pid, "VmHWM") / 1024
        return runs[name]

    next_first = [100_000_000]

    def take(count):
        first = next_first[0]
        next_first[0] += count
        return first

    log(f"making {args.seed} recharges wait for their NIT per run")
    warm_up = take(20_000)
    seed(warm_up, 20_000)
    wrk(f"{service.base}", 16, 2, load_cpus,
        f"FIRST = {warm_up}\nSPAN = 20000\n" + AUTHENTICITY_LUA)

    for c in clients:
        measured(f"http_ceiling_c{c}",
                 lambda: wrk(f"{service.base}/health/live", c, args.seconds, load_cpus))

    for c in clients:
        first = take(args.seed)
        seed(first, args.seed)
        r = measured(f"callback_first_commit_c{c}", lambda: wrk(
            service.base, c, args.seconds, load_cpus,
            f"FIRST = {first}\nSPAN = {args.seed}\n" + AUTHENTICITY_LUA))
        r["committed"] = committed_in(first, args.seed)
        if r["non_2xx"] or r["socket_errors"] or not r["requests"] <= r["committed"] <= r["requests"] + c:
            sys.exit(f"callback run c{c} was not all first commits: {r} (raise --seed?)")
        # The same POSTs again: each a replay of one committed long before the first run
        # ended (the first half of them; the last ones sent may still be landing). wrk calls
        # request() once before it sends anything: the range's first number is never sent.
        replayed, span = first + 1, r["requests"] // 2
        if committed_in(replayed, span) != span:
            sys.exit(f"callback run c{c} left a gap in what it committed")
        r = measured(f"callback_repeat_c{c}", lambda: wrk(
            service.base, c, args.seconds, load_cpus,
            f"FIRST = {replayed}\nSPAN = {span}\n" + AUTHENTICITY_LUA))
        if r["non_2xx"] or r["socket_errors"]:
            sys.exit(f"repeat run c{c} had failures: {r}")
        received = int(psql(
            "SELECT sum(receipt_count) FROM callbacks c JOIN recharges r ON r.id = c.recharge_id "
            f"WHERE r.merchant_usn BETWEEN {replayed} AND {replayed + span - 1}"))
        if committed_in(replayed, span) != span or received < span + r["requests"]:
            sys.exit(f"repeat run c{c}: replays changed what was committed, or were not counted")

    # The storefront API at its capacity, then at four times it: what is admitted should keep
    # its latency, and what is not should be refused at once.
    path = f"/api/v1/recharges/{storefront_recharge(service)}"
    measured(f"storefront_c{capacity}",
             lambda: burst(service, path, capacity, args.seconds, load_cpus))
    r = measured(f"storefront_burst_c{4 * capacity}",
                 lambda: burst(service, path, 4 * capacity, args.seconds, load_cpus))
    if r["other"] or r["refused_with_retry_after"] != r["refused"]["count"]:
        sys.exit(f"the burst had answers other than 2xx and 503 with Retry-After: {r}")

    if args.callbacks_only:
        results["memory"] = {"peak_rss_mib": memory_kib(service.pid, "VmHWM") / 1024}
        service.stop()
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", "postgres")
        finish(results, stamp, service_log)
        return

    service_script = pgbench_script_of_the_service()
    seven_script = (ROOT / "bench" / "pgbench" / "commit_nit_seven.sql").read_text()
    for name, script in [("pgbench_same_statement", service_script),
                         ("pgbench_former_transaction", seven_script)]:
        for c in clients:
            first = take(args.seed)
            seed(first, args.seed)
            r = measured(f"{name}_c{c}",
                         lambda: pgbench(script, c, args.seconds, load_cpus, first))
            r["committed"] = committed_in(first, args.seed)
            if r["failed"] or r["committed"] != r["requests"]:
                sys.exit(f"{name} c{c}: {r['committed']} committed of {r['requests']} (raise --seed?)")

    if args.profile:
        first = take(args.seed)
        seed(first, args.seed)
        settle()
        profile_seconds = max(3, args.seconds // 2)
        loader = subprocess.Popen(pinned(load_cpus, ["wrk", "-t1", f"-c{clients[-1]}",
                                                     f"-d{profile_seconds + 1}s", "-s",
                                                     write_lua(first, args.seed), service.base]),
                                  stdout=subprocess.DEVNULL)
        results["profile"] = perf_profile(service.pid, profile_seconds, RESULTS)
        loader.wait()

    topups = topups_binary()

    def top_ups(target, workers, count=None):
        span = ["--count", str(count)] if count else ["--seconds", str(args.seconds)]
        out = subprocess.run(
            pinned(load_cpus, [topups, "--base", target.base, "--token", TOKEN,
                               "--workers", str(workers), *span]),
            check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        r["requests"] = r["top_ups"]
        if r["errors"]:
            sys.exit(f"top-ups failed: {r['errors']}")
        return r

    # Until now the embedded sandbox held next to nothing: this is the service's own peak.
    peak_before_top_ups = memory_kib(service.pid, "VmHWM") / 1024
    # The top-ups meet the service's own admission capacity (4 x the pool), not the burst's.
    if capacity != 4 * pool:
        service.stop()
        service = Service(service_cpus, pool, service_log, args.log_filter, args.lane)
        service.start()
    # One at a time: what the service adds to a top-up when nothing queues; then many at
    # once: how many it completes a second.
    for workers in sorted({1, args.topup_workers}):
        measured(f"top_ups_w{workers}", lambda: top_ups(service, workers))
    embedded_peak = memory_kib(service.pid, "VmHWM") / 1024
    service.stop()

    # The embedded sandbox keeps every transaction in memory (a test double's ledger), so the
    # process above grows with each top-up. The service alone, against the sandbox as a
    # process of its own (on the load generator's cores): its memory and CPU per top-up.
    log("top-ups against a standalone sandbox: the service's own memory and CPU")
    alone = Service(service_cpus, pool, service_log, args.log_filter, args.lane)
    sandbox_port = free_port()
    sandbox_env = dict(alone.env, SANDBOX_LISTEN_ADDR=f"127.0.0.1:{sandbox_port}",
                       SANDBOX_AUTHENTICITY_URL=f"{alone.base}/callbacks/authenticity",
                       SANDBOX_STATUS_URL=f"{alone.base}/callbacks/status",
                       SANDBOX_HASH_URL=f"{alone.base}/callbacks/hash")
    sandbox = subprocess.Popen(pinned(load_cpus, [str(BIN), "sandbox"]), cwd=ROOT,
                               env=sandbox_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        alone.env["CARAT_BASE_URL"] = f"http://127.0.0.1:{sandbox_port}/e-sitef"
        wait_for_port(sandbox_port)
        alone.start()
        with Meter(alone.pid, postmaster) as meter:
            r = top_ups(alone, args.topup_workers)
        runs[f"top_ups_w{args.topup_workers}_sandbox_apart"] = meter.per_request(r)
        alone_peak = memory_kib(alone.pid, "VmHWM") / 1024
        if args.profile:
            # Where a top-up's time goes in the service: sampled over a run of its own.
            log("profiling the service through top-ups (sandbox apart)")
            with ThreadPoolExecutor(1) as executor:
                loaded = executor.submit(top_ups, alone, args.topup_workers)
                results["profile_top_ups"] = perf_profile(
                    alone.pid, max(3, args.seconds - 2), RESULTS)
                loaded.result()
    finally:
        alone.stop()
        sandbox.terminate()
        sandbox.wait()
    # What a top-up costs PostgreSQL, counted: a service of its own, with the reconciler off
    # (its passes are transactions too), one top-up at a time.
    log("transactions and rows per top-up (pg_stat_database)")
    counted = Service(service_cpus, pool, service_log, args.log_filter, args.lane)
    counted.env["RECONCILE_ENABLED"] = "false"
    counted.start()
    try:
        results["database_per_top_up"] = database_work_per_top_up(
            lambda n: top_ups(counted, 1, count=n), 30)
    finally:
        counted.stop()

    results["memory"] = {
        "peak_rss_mib": max(peak_before_top_ups, alone_peak),
        "peak_before_top_ups_mib": peak_before_top_ups,
        "peak_during_top_ups_sandbox_apart_mib": alone_peak,
        "peak_with_embedded_sandbox_mib": embedded_peak,
    }
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", "postgres")

    finish(results, stamp, service_log)


def finish(results, stamp, service_log):
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    log(f"figures in {out.relative_to(ROOT)}; the service's log in {service_log.relative_to(ROOT)}")


def wait_for_port(port, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    sys.exit(f"nothing listens on {port}")


def write_lua(first, span):
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(f"FIRST = {first}\nSPAN = {span}\n" + AUTHENTICITY_LUA)
    f.close()
    return f.name


def topups_binary():
    """The `topups` bench's executable, as cargo built it."""
    out = subprocess.run(
        ["cargo", "bench", "--locked", "--bench", "topups", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "topups" \
                and message.get("executable"):
            return message["executable"]
    sys.exit("cargo did not say where the topups bench is")


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def table(results):
    runs = results["runs"]
    clients = results["settings"]["clients"]
    lines = []
    row = lambda *cells: lines.append(
        f"{cells[0]:<34}" + "".join(f"{c:>11}" for c in cells[1:]))
    row("work (connections)", "per s", "p50 ms", "p99 ms", "p99.9 ms", "svc CPU ms",
        "pg CPU ms")
    for c in clients:
        for name, label in [(f"callback_first_commit_c{c}", "callback, first commit"),
                            (f"callback_repeat_c{c}", "callback, repeat"),
                            (f"pgbench_same_statement_c{c}", "pgbench, same statement"),
                            (f"pgbench_former_transaction_c{c}", "pgbench, former 7 round trips"),
                            (f"http_ceiling_c{c}", "HTTP ceiling (/health/live)")]:
            r = runs.get(name)
            if r:
                row(f"{label} ({c})", f"{r['per_second']:.0f}", f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}", f"{r['p999_ms']:.2f}",
                    f"{r['service_cpu_ms']:.3f}", f"{r['postgres_cpu_ms']:.3f}")
    capacity = results["settings"].get("api_max_concurrency") or 0
    at, flood = runs.get(f"storefront_c{capacity}"), runs.get(f"storefront_burst_c{4 * capacity}")
    if at and flood:
        for label, r in [(f"storefront GET, capacity ({capacity})", at["admitted"]),
                         (f"  burst 4x ({4 * capacity}): admitted", flood["admitted"]),
                         (f"  burst 4x ({4 * capacity}): refused", flood["refused"])]:
            row(label, f"{r['per_second']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
                f"{r['p999_ms']:.2f}", "", "")
    lines.append("")
    if at and flood:
        lines.append(
            f"burst at 4x capacity: admitted p99 {flood['admitted']['p99_ms']:.2f} ms vs "
            f"{at['admitted']['p99_ms']:.2f} ms at capacity "
            f"({flood['admitted']['p99_ms'] / at['admitted']['p99_ms']:.2f}x); "
            f"{flood['refused']['count']} refused (503, Retry-After) in "
            f"{flood['refused']['p50_ms']:.2f} ms p50, {flood['refused']['p99_ms']:.2f} ms p99, "
            f"{flood['refused']['max_ms']:.2f} ms max")
    for c in clients:
        cb, pg = runs[f"callback_first_commit_c{c}"], runs.get(f"pgbench_same_statement_c{c}")
        old = runs.get(f"pgbench_former_transaction_c{c}")
        http = runs[f"http_ceiling_c{c}"]
        if not pg:
            lines.append(f"at {c}: callback/HTTP ceiling {cb['per_second'] / http['per_second']:.2f}")
            continue
        lines.append(
            f"at {c}: callback/pgbench throughput {cb['per_second'] / pg['per_second']:.2f}, "
            f"p99 {cb['p99_ms'] / pg['p99_ms']:.2f}x pgbench's; "
            f"callback/pgbench-former-7 {cb['per_second'] / old['per_second']:.2f}; "
            f"callback/HTTP ceiling {cb['per_second'] / http['per_second']:.2f}")
    for name, t in runs.items():
        if not name.startswith("top_ups_"):
            continue
        apart = name.endswith("_sandbox_apart")
        lines.append(
            f"top-ups, {t['workers']} at a time{', sandbox apart' if apart else ''}: "
            f"{t['per_second']:.1f}/s; one (6 requests) takes {t['client_ms']['p50']:.1f} ms "
            f"(p50) at the client: the service's own {t['service_own_ms']['p50']:.2f} ms (p50) "
            f"beyond {t['carat_wait_ms']['p50']:.1f} ms waiting on Carat; CPU per top-up: "
            f"service {t['service_cpu_ms']:.2f} ms"
            f"{'' if apart else ' (the embedded sandbox included)'}, PostgreSQL "
            f"{t['postgres_cpu_ms']:.2f} ms")
    one = runs.get("top_ups_w1")
    if one and "service_own_ms_by_request" in one:
        lines.append("the service's own time per request, one top-up at a time (p50, ms): " +
                     ", ".join(f"{name} {t['p50']:.2f}"
                               for name, t in one["service_own_ms_by_request"].items()))
    if "database_per_top_up" in results:
        d = results["database_per_top_up"]
        lines.append(
            f"PostgreSQL per top-up (6 requests, one at a time, reconciler off, over "
            f"{d['top_ups']}): {d['transactions']:.1f} transactions, {d['rows_written']:.1f} "
            f"rows written ({d['rows_inserted']:.1f} inserted, {d['rows_updated']:.1f} updated, "
            f"{d['rows_deleted']:.1f} deleted)")
    profile = results.get("profile_top_ups")
    if profile:
        lines.append("the service's CPU through top-ups, by object: " +
                     "; ".join(profile["by_object"][:6]))
    s, m = results["startup"], results["memory"]
    if len(m) == 1:
        lines.append(f"start-up to ready: {s['warm_to_ready_ms']:.0f} ms; peak RSS "
                     f"{m['peak_rss_mib']:.1f} MiB")
        return "\n".join(lines)
    lines.append(f"start-up to ready: {s['warm_to_ready_ms']:.0f} ms (database migrated), "
                 f"{s['cold_to_ready_ms']:.0f} ms (database created and migrated)")
    lines.append(f"peak RSS of the service: {m['peak_rss_mib']:.1f} MiB (callbacks and HTTP: "
                 f"{m['peak_before_top_ups_mib']:.1f}; top-ups, sandbox apart: "
                 f"{m['peak_during_top_ups_sandbox_apart_mib']:.1f}); with the embedded sandbox's "
                 f"ledger after every top-up: {m['peak_with_embedded_sandbox_mib']:.1f} MiB")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

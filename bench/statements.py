#!/usr/bin/env python3
"""The statements one top-up sends PostgreSQL, request by request (docs/benchmarks.md).

Starts the service (a build of it: `--binary`, default the debug one) on a fresh database whose
statements PostgreSQL logs (`log_min_duration_statement = 0`, set for that database alone),
with the reconciler off, makes `--warm` top-ups so that each pooled connection has prepared its
statements and the caches are filled, then one more, and prints what each of its requests sent:
transactions begun explicitly, and every statement executed (an auto-committed one is a
transaction of its own). Reads the server's log, Debian's by default (`--log`).

    python3 bench/statements.py [--binary target/release/carat-merchant] [--warm 3]
"""

import argparse
import glob
import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "carat_statements"
PG_URL = "postgres://postgres@127.0.0.1:5432"
TOKEN = "local-dev-token"
SENT = re.compile(r"LOG:\s+(?:duration: [\d.]+ ms\s+)?(?:execute [^:]*|statement): (.*)")
EFFECTUATION = {"dealer": {"code": "001", "type_code": "03"},
                "phone": {"ddd": "11", "number": "987654321"}, "amount": 1000, "amount_key": "1"}


def psql(sql, db="postgres"):
    return subprocess.run(["psql", f"{PG_URL}/{db}", "-Atqc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, binary):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, APP_PROFILE="local", LISTEN_ADDR=f"127.0.0.1:{port}",
                   DATABASE_URL=f"{PG_URL}/{DB}?sslmode=disable", LOG_FILTER="warn",
                   SANDBOX_LISTEN_ADDR=f"127.0.0.1:{free_port()}", RECONCILE_ENABLED="false")
        self.process = subprocess.Popen([binary, "serve"], cwd=ROOT, env=env)
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{self.base}/health/ready", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the service was not ready in 30 s")

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            f"{self.base}/api/v1/recharges{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    def top_up(self, mark):
        """A storefront's top-up; `mark(name)` is called after each request."""
        id_ = self.call("POST", "", {"recharge_type": "normal"})["id"]
        mark("create")
        self.call("GET", f"/{id_}/dealers")
        mark("dealers")
        self.call("GET", f"/{id_}/branches?dealer_code=001&ddd=11")
        mark("branches")
        self.call("POST", f"/{id_}/effectuate", EFFECTUATION)
        mark("effectuate")
        self.call("POST", f"/{id_}/confirm", {"confirm": True})
        mark("confirm")
        self.call("GET", f"/{id_}")
        mark("get")

    def stop(self):
        self.process.terminate()
        self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "target" / "debug" / "carat-merchant"))
    parser.add_argument("--warm", type=int, default=3)
    logs = sorted(glob.glob("/var/log/postgresql/postgresql-*-main.log"))
    parser.add_argument("--log", default=logs[-1] if logs else None,
                        help="the server's log (default: Debian's newest)")
    args = parser.parse_args()
    if not args.log:
        raise SystemExit("no server log found: pass --log")
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    psql(f"ALTER DATABASE {DB} SET log_min_duration_statement = 0")
    service = Service(args.binary)
    try:
        for _ in range(args.warm):
            service.top_up(lambda _: None)
        time.sleep(0.5)
        marks = [("start", os.path.getsize(args.log))]

        def mark(name):
            time.sleep(0.3)  # the log is written by another process: let it land
            marks.append((name, os.path.getsize(args.log)))
        service.top_up(mark)
    finally:
        service.stop()
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    with open(args.log, "rb") as log:
        text = log.read().decode(errors="replace")
    total = [0, 0]
    for (_, start), (name, end) in zip(marks, marks[1:]):
        lines = [l for l in text[start:end].splitlines() if f"@{DB} " in l]
        # "LOG:  duration: 0.1 ms  execute s1: ..." (parse and bind lines are not sends).
        found = (SENT.search(l) for l in lines)
        sent = [m.group(1) for m in found if m]
        # Each statement outside BEGIN..COMMIT is a transaction; each BEGIN..COMMIT is one.
        inside, alone, open_ = 0, 0, False
        for s in sent:
            word = s.strip().split()[0].upper() if s.strip() else ""
            if word == "BEGIN":
                open_ = True
            elif word in ("COMMIT", "ROLLBACK"):
                open_, inside = False, inside + 1
            elif not open_:
                alone += 1
        transactions = inside + alone
        total[0] += transactions
        total[1] += len(sent)
        print(f"{name}: {transactions} transactions, {len(sent)} round trips")
        for s in sent:
            print(f"    {' '.join(s.split())[:110]}")
    print(f"top-up: {total[0]} transactions, {total[1]} round trips")


if __name__ == "__main__":
    main()

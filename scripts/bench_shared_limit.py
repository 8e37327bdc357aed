#!/usr/bin/env python3
"""Benchmark: one limit shared by several pacers through Redis (issue 19).

Why it exists: CI shards (or machines) calling one API each run a pacer;
with the memory backend each keeps the limit alone, so N of them send N
times the limit. With `--limiter-backend redis://...` they keep one. This
script measures, on this machine:

1. for 1, 2 and 4 shards (each a `pacer proxy` told the API's whole limit,
   each driven by --threads client threads for --seconds) against one
   `pacer-mockapi` keeping a sliding-window quota of --limit requests/s:
   the aggregate rate the API accepted, as a fraction of the limit, and the
   retry rate (the API's refusals over the requests it got), with one
   shared Redis and, beside it, with the memory backend (as by default, and
   with --no-adaptive, which shows the overrun without AIMD's correction);
2. the latency one admission adds: one client, one request at a time,
   through a proxy with no binding limit, Redis against memory (median and
   p99 of the whole round trip; the difference is the admission's cost);
3. how many admissions per second one Redis serves: `redis-benchmark`
   running the admission script (EVALSHA) from 50 connections.

Standard library only. Usually run through `scripts/bench-shared-limit`,
which builds the release binaries first. Needs /usr/bin/redis-server and
redis-benchmark (Debian's redis-server and redis-tools).
"""

import argparse
import http.client
import json
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "crates" / "pacer-limiter" / "src" / "shared" / "limit.lua"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("error: redis-server did not start")
                time.sleep(0.02)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def first_line(proc, what):
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        sys.exit(f"error: {what} printed nothing")
    return line


class Mock:
    def __init__(self, binary, args):
        self.proc = subprocess.Popen([binary, "--port", "0", *args],
                                     stdout=subprocess.PIPE, text=True)
        self.url = first_line(self.proc, "pacer-mockapi").removeprefix("listening on ")

    def stats(self):
        with urllib.request.urlopen(self.url + "/__stats", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Proxy:
    def __init__(self, binary, api, args):
        self.proc = subprocess.Popen(
            [binary, "proxy", "--upstream", f"api={api}", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = first_line(self.proc, "pacer proxy").split()[0]
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def drive(urls, threads, seconds):
    """`threads` clients per URL, each calling in a loop until `seconds`
    pass; returns (answers, non-200 answers)."""
    stop = time.time() + seconds
    counts = {"ok": 0, "bad": 0}
    lock = threading.Lock()

    def loop(url):
        while time.time() < stop:
            try:
                with urllib.request.urlopen(url + "/item", timeout=60) as r:
                    r.read()
                    good = r.status == 200
            except (urllib.error.URLError, OSError):
                good = False
            with lock:
                counts["ok" if good else "bad"] += 1

    workers = [threading.Thread(target=loop, args=(u,)) for u in urls for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return counts["ok"], counts["bad"]


def shards_case(args, shards, backend):
    mock = Mock(args.mock, ["--limit", "sliding-window", "--rate", str(args.limit),
                            "--window", "1", "--latency", str(args.latency)])
    redis = Redis() if backend == "redis" else None
    flags = ["--rate", str(args.limit), "--burst", "1", "--max-concurrent", "32",
             "--base-backoff", "0.05", "--max-backoff", "1"]
    if redis:
        flags += ["--limiter-backend", redis.url]
    if backend == "memory, fixed rate":
        # Without AIMD and the quota learned from refusals, which make
        # memory shards back off on their own: the overrun itself.
        flags += ["--no-adaptive"]
    proxies = [Proxy(args.pacer, mock.url, flags) for _ in range(shards)]
    try:
        ok, bad = drive([p.url for p in proxies], args.threads, args.seconds)
        s = mock.stats()
    finally:
        for p in proxies:
            p.stop()
        mock.stop()
        if redis:
            redis.stop()
    achieved = s["achieved_rate"]
    return {
        "shards": shards, "backend": backend,
        "achieved": achieved, "of_limit": achieved / args.limit,
        "refused": s["rejected"], "requests": s["total_requests"],
        "sent": s["total_requests"] / max(s["elapsed"], 1e-9),
        "retry_rate": s["rejected"] / max(s["total_requests"], 1),
        "client_ok": ok, "client_failed": bad,
    }


def latencies(args, n):
    """Per backend, the median and p99 of one request's round trip through
    a proxy with no binding limit, one request at a time on a kept-alive
    connection. Both proxies run at once and take turns, so that the
    machine's noise falls on both alike."""
    mock = Mock(args.mock, ["--limit", "none"])
    redis = Redis()
    flags = ["--rate", "100000", "--burst", "1000", "--max-concurrent", "64"]
    proxies = {
        "memory": Proxy(args.pacer, mock.url, flags),
        "redis": Proxy(args.pacer, mock.url, flags + ["--limiter-backend", redis.url]),
    }
    times = {b: [] for b in proxies}
    try:
        conns = {b: http.client.HTTPConnection(p.url.removeprefix("http://"), timeout=10)
                 for b, p in proxies.items()}
        for i in range(n + 50):
            order = list(conns.items()) if i % 2 else list(reversed(conns.items()))
            for b, conn in order:
                t0 = time.perf_counter()
                conn.request("GET", "/item")
                conn.getresponse().read()
                if i >= 50:  # warm: connections open, script loaded
                    times[b].append(time.perf_counter() - t0)
    finally:
        for p in proxies.values():
            p.stop()
        mock.stop()
        redis.stop()
    out = {}
    for b, t in times.items():
        t.sort()
        out[b] = (statistics.median(t) * 1000, t[int(len(t) * 0.99)] * 1000)
    return out


def evalsha_args(redis, sha):
    keys = ["b:state", "b:starts", "b:leases", "b:refused"]
    # An admission as a proxy sends it: a quota far above what one Redis
    # serves (so none waits), every start logged, a lease per request.
    admit = ["admit", "600", "1000000000", "1000000", "1000", "0", "64",
             "id:__rand_int__", "61000000", "1", "0.5", "0.03", "1000000000"]
    return ["redis-benchmark", "-p", str(redis.port), "-r", "100000000",
            "EVALSHA", sha, "4", *keys, *admit]


def redis_capacity(clients, requests):
    redis = Redis()
    try:
        cli = ["redis-cli", "-p", str(redis.port)]
        sha = subprocess.run(cli + ["SCRIPT", "LOAD", LUA.read_text()],
                             capture_output=True, text=True, check=True).stdout.strip()
        base = evalsha_args(redis, sha)
        out = subprocess.run(base[:1] + ["-n", str(requests), "-c", str(clients), "-q"] + base[1:],
                             capture_output=True, text=True, check=True).stdout
        # One client, one call at a time: what one admission costs.
        alone = subprocess.run(base[:1] + ["-n", "20000", "-c", "1"] + base[1:],
                               capture_output=True, text=True, check=True).stdout
    finally:
        redis.stop()
    # "EVALSHA ...: 41234.57 requests per second, p50=0.591 msec" (the
    # command, colons and all, comes first)
    line = [l for l in out.replace("\r", "\n").splitlines() if "requests per second" in l][-1]
    rate = float(re.search(r"([\d.]+) requests per second", line).group(1))
    p50 = re.search(r"p50=([\d.]+)", line)
    p50 = p50.group(1) if p50 else "?"
    # "latency summary (msec):" then "avg min p50 p95 p99 max" and the values
    lines = alone.replace("\r", "\n").splitlines()
    at = [i for i, l in enumerate(lines) if "latency summary" in l][-1]
    names, values = lines[at + 1].split(), lines[at + 2].split()
    single = dict(zip(names, (float(v) for v in values)))
    return rate, p50, single


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pacer", required=True)
    ap.add_argument("--mock", required=True)
    ap.add_argument("--limit", type=int, default=50, help="the API's quota, requests/s")
    ap.add_argument("--latency", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=8, help="client threads per shard")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--samples", type=int, default=2000, help="requests for the latency")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args()

    rows = []
    for shards in (1, 2, 4):
        for backend in ("redis", "memory", "memory, fixed rate"):
            rows.append(shards_case(args, shards, backend))
    print(f"## Shards against one API of {args.limit} req/s (sliding window), "
          f"{args.threads} client threads per shard, {args.seconds:.0f} s")
    print()
    print("| shards | backend | sent req/s | achieved req/s | of the limit | API's refusals | retry rate | client failures |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['shards']} | {r['backend']} | {r['sent']:.1f} | {r['achieved']:.1f} | {r['of_limit']:.0%} | "
              f"{r['refused']} of {r['requests']} | {r['retry_rate']:.1%} | {r['client_failed']} |")
    print()
    lat = latencies(args, args.samples)
    print(f"## Latency of one request through the proxy ({args.samples} each, taking turns, no binding limit)")
    print()
    print("| backend | median ms | p99 ms |")
    print("|---|---|---|")
    for b, (med, p99) in lat.items():
        print(f"| {b} | {med:.3f} | {p99:.3f} |")
    print(f"| redis - memory | {lat['redis'][0] - lat['memory'][0]:+.3f} | "
          f"{lat['redis'][1] - lat['memory'][1]:+.3f} |")
    print()
    rate, p50, single = redis_capacity(50, 200000)
    print("## One Redis and the admission script (redis-benchmark, EVALSHA of limit.lua)")
    print()
    print(f"- one client, one call at a time: median {single['p50']:.3f} ms, "
          f"p99 {single['p99']:.3f} ms per admission")
    print(f"- 50 connections: {rate:.0f} admissions/s (median {p50} ms per call at that load)")
    if args.json:
        print(json.dumps({"shards": rows, "latency_ms": lat, "redis_admissions_per_s": rate,
                          "evalsha_alone_ms": single}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: a rate-limited API suite with and without pacer's proxy.

Why it exists: issue 4's promise is that a suite of end-to-end tests calling
a live, rate-limited API can run in parallel without 429 failures and still
use the whole rate the API allows. This script proves it, in one run, against
`pacer-mockapi` limited to --limit requests/s (token bucket, burst 5) with
--latency seconds per call, on the `tests/fixtures/ratelimited` suite sized
to --tests end-to-end tests of --calls calls each (default 50 x 4):

    pytest                      sequential, straight at the mock (wall)
    pytest -n 8                 pytest-xdist, straight at the mock (failures)
    pacer (rate = limit)        through the proxy: wall, failures, retry
                                rate, achieved requests/s
    pacer (rate = 2.5 x limit)  the configured rate too high; adaptive on

Targets (printed, not asserted): 0 failed tests, achieved rate >= 90% of the
limit, retry rate <= 5%. `min_delay` is set to 0: its default (0.1 s) alone
would cap the rate at 10/s.

The achieved rate is the mock's own figure: accepted requests per second
from the first accepted request to the last, so it includes the start-up
ramp (workers joining) and the tail (the last tests' calls are sequential).
"steady" is the rate between the 10% and 90% marks of the calls, sampled
from the mock's /__stats every 50 ms: the pace once every worker is busy.

Standard library only. Usually run through `scripts/bench-ratelimit`, which
makes the venv and builds the release binaries first; by hand:

    python3 scripts/bench_ratelimit.py --python .venv/bin/python \\
        --pacer target/release/pacer --mock target/release/pacer-mockapi
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "fixtures" / "ratelimited"
RUN_TIMEOUT = 600  # seconds; slower than this is broken, not slow


class Mock:
    """pacer-mockapi on an ephemeral port, stopped on exit."""

    def __init__(self, binary, limit, latency):
        self.proc = subprocess.Popen(
            [
                binary,
                "--port", "0",
                "--limit", "token-bucket",
                "--rate", str(limit),
                "--burst", "5",
                "--latency", str(latency),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self.proc.stdout.readline().strip()
        prefix = "listening on "
        if not first.startswith(prefix):
            self.proc.kill()
            sys.exit(f"error: pacer-mockapi printed {first!r}, not its address")
        self.url = first[len(prefix):]

    def reset(self):
        req = urllib.request.Request(self.url + "/__reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=10).read()

    def stats(self):
        with urllib.request.urlopen(self.url + "/__stats", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def counts(output):
    """pytest's final-line counts: {'passed': 200, 'failed': 3, ...}."""
    found = {}
    lines = [l for l in output.splitlines() if re.search(r"\d+ (passed|failed|error)", l)]
    if lines:
        for n, what in re.findall(r"(\d+) (passed|failed|errors?|skipped)", lines[-1]):
            found[what.rstrip("s") if what.startswith("error") else what] = int(n)
    return found


def steady_rate(samples, calls):
    """Accepted requests/s between the 10% and the 90% marks of the calls:
    the pace once every worker is busy, without the start-up ramp and the
    tail of the last tests' sequential calls."""
    def when(n):
        return next((t for t, accepted in samples if accepted >= n), None)

    low, high = int(calls * 0.1), int(calls * 0.9)
    t_low, t_high = when(low), when(high)
    if t_low is None or t_high is None or t_high <= t_low:
        return None
    return (high - low) / (t_high - t_low)


def run(cmd, env, mock, calls):
    mock.reset()
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            try:
                samples.append((time.monotonic(), mock.stats()["accepted"]))
            except OSError:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=SUITE, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    out = proc.stdout + proc.stderr
    c = counts(proc.stdout)
    return {
        "wall": wall,
        "code": proc.returncode,
        "passed": c.get("passed", 0),
        "failed": c.get("failed", 0) + c.get("error", 0),
        "mock": mock.stats(),
        "steady": steady_rate(samples, calls),
        "output": out,
    }


def proxy_figures(output):
    """Retry rate and the settled rate from pacer's statistics block."""
    retry = re.search(r"retry rate ([\d.]+)%", output)
    settled = re.search(r"rate settled at ([\d.]+) req/s", output) or re.search(
        r"rate ([\d.]+) req/s \(as configured\)", output
    )
    requests = re.search(r"requests (\d+), retried (\d+), 429 seen (\d+)", output)
    return {
        "retry_rate": float(retry.group(1)) / 100 if retry else None,
        "settled": float(settled.group(1)) if settled else None,
        "retried": int(requests.group(2)) if requests else None,
        "seen_429": int(requests.group(3)) if requests else None,
    }


def steady(r):
    return f"{r['steady']:.1f}/s" if r["steady"] else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", required=True, help="a Python with pytest and pytest-xdist")
    ap.add_argument("--pacer", required=True, help="the pacer binary")
    ap.add_argument("--mock", required=True, help="the pacer-mockapi binary")
    ap.add_argument("--tests", type=int, default=50)
    ap.add_argument("--calls", type=int, default=4)
    ap.add_argument("--limit", type=float, default=40.0, help="the mock's requests/s")
    ap.add_argument("--latency", type=float, default=0.1, help="seconds per call")
    ap.add_argument("--xdist", type=int, default=8, help="pytest -n N")
    ap.add_argument("--show-output", action="store_true", help="print each run's output")
    args = ap.parse_args()
    # The runs start in the suite's directory: make the tools' paths absolute.
    for name in ("python", "pacer", "mock"):
        value = getattr(args, name)
        if os.sep in value:
            setattr(args, name, os.path.abspath(value))

    calls = args.tests * args.calls
    env = dict(os.environ)
    env.pop("PACER_UPSTREAM_API", None)
    env.update(RATELIMITED_TESTS=str(args.tests), RATELIMITED_CALLS=str(args.calls))
    paths = ["tests/end_to_end"]
    pytest = [args.python, "-m", "pytest", "-p", "no:cacheprovider", "-q", *paths]

    mock = Mock(args.mock, args.limit, args.latency)
    try:
        direct = dict(env, PACER_UPSTREAM_API=mock.url)
        rows = []
        print(
            f"suite: {args.tests} end-to-end tests x {args.calls} calls = {calls} calls; "
            f"mock: {args.limit:g} requests/s (token bucket, burst 5), "
            f"{args.latency:g} s latency; machine: {os.cpu_count()} cores",
            flush=True,
        )
        runs = [
            ("pytest", pytest, direct, None),
            (f"pytest -n {args.xdist}", pytest + ["-n", str(args.xdist)], direct, None),
            (f"pacer, rate {args.limit:g}", None, env, args.limit),
            (f"pacer, rate {args.limit * 2.5:g} (2.5x)", None, env, args.limit * 2.5),
        ]
        for label, cmd, run_env, rate in runs:
            if cmd is None:
                cmd = [
                    args.pacer, "--python", args.python,
                    "--upstream", f"api={mock.url}",
                    "--rate", f"{rate:g}", "--min-delay", "0", "--adaptive",
                    *paths, "--", "-p", "no:cacheprovider",
                ]
            print(f"running {label} ...", file=sys.stderr, flush=True)
            r = run(cmd, run_env, mock, calls)
            r["label"] = label
            r["proxy"] = proxy_figures(r["output"]) if rate else None
            if args.show_output:
                print(r["output"])
            rows.append(r)
    finally:
        mock.stop()

    print()
    header = (
        f"{'run':<26} {'wall':>7} {'passed':>7} {'failed':>7} {'429s':>6} "
        f"{'retried':>8} {'retry rate':>10} {'achieved':>9} {'of limit':>8} {'steady':>8} {'settled':>8}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for r in rows:
        m = r["mock"]
        p = r["proxy"]
        achieved = m["achieved_rate"]
        share = achieved / args.limit
        line = (
            f"{r['label']:<26} {r['wall']:>6.1f}s {r['passed']:>7} {r['failed']:>7} {m['rejected']:>6} "
        )
        if p:
            line += (
                f"{p['retried']:>8} {p['retry_rate'] * 100:>9.1f}% {achieved:>7.1f}/s {share * 100:>7.0f}% "
                f"{steady(r):>8} {p['settled']:>6.1f}/s"
            )
            checks = {
                "0 failed": r["failed"] == 0 and r["passed"] == args.tests,
                "achieved >= 90% of limit": share >= 0.9,
                "retry rate <= 5%": p["retry_rate"] <= 0.05,
            }
            missed = [k for k, good in checks.items() if not good]
            if missed:
                ok = False
                line += "   MISSED: " + ", ".join(missed)
        else:
            line += f"{'':>8} {'':>10} {achieved:>7.1f}/s {share * 100:>7.0f}% {steady(r):>8}"
        print(line)
    print()
    print("targets for the pacer rows: 0 failed, achieved >= 90% of the limit, retry rate <= 5%:",
          "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

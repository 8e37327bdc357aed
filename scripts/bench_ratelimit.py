#!/usr/bin/env python3
"""Benchmark: a rate-limited API suite through pacer's proxy, against the
three ways real APIs keep their limits.

Why it exists: issue 9's promise is that pacer keeps a suite of end-to-end
tests near the limit of any real API without 429 failures. This script
proves it in one run. The suite is `tests/fixtures/ratelimited/ofsc`: --tests
tests of --calls calls each (default 50 x 4) made with the real `ofsc`
client (PyPI), against `pacer-mockapi` allowing --limit requests/s with
--latency seconds per call, the limit kept as

    a token bucket (burst 5), a fixed window, a sliding window log,

each with pacer configured three ways:

    rate right      --rate LIMIT
    2.5x too high   --rate 2.5*LIMIT (adaptive, as by default)
    not configured  no rate; the mock advertises its limit in headers
                    (RateLimit-Policy/RateLimit, or X-RateLimit-* for the
                    fixed window)

Refusals carry Retry-After in mixed forms (fractional seconds for the
bucket, whole seconds for the fixed window, an HTTP-date for the sliding
window). Before the matrix, `pytest -n 8` straight at the sliding-window
mock shows what happens without the proxy.

Per case it prints passed/failed, the achieved rate as a fraction of the
limit (the mock's own figure: accepted requests per second from the first
accepted to the last, so start-up and the last test's tail count against
it), the 429s the mock sent, and the proxy's retry rate, then checks issue
9's targets: 0 failed everywhere; >= 90% of the limit with the rate right or
learned, >= 85% with it 2.5x too high; retry rate <= 5%, <= 2% where the API
advertises its limit.

`--client heavy` is issue 19's case instead: a suite that itself runs near
the limit (`tests/fixtures/ratelimited/ofsc_heavy`: the client built per
test with its models on, --cpu-ms of CPU per call, the end-to-end
category's 10 io workers, --latency 0.1 s). It first measures the
*reachable* rate in the same run (the suite through the proxy with a rate
no one reaches, against the mock not limiting): over the whole run, and in
its middle, between the 10% and 90% marks of its calls (the suite's pace,
without the start-up and the last tests' sequential tail). It sets the
limit just under the pace (--limit, or by default the issue's ratio: 40
req/s against 41 reachable, rounded down; `--limit-from whole` takes it
from the whole-run rate instead, a limit below the suite's pace whenever
its tail is long), then runs each kind with `--rate LIMIT` and nothing else
(shipped defaults: no --burst). Per kind it prints the achieved rate over
the reachable one (both over the whole run), the middle's rate over the
pace and over the limit, the retry rate, the wall over the unlimited wall and the
requests the mock accepted in the first and last second; targets: >= 90% of
reachable on the fixed and sliding windows, >= 85% on the token bucket
(burst 5), retry rate <= 5%, 0 failed. The machine is shared, so the
reachable rate is measured again after the kinds and the two averaged; the
wall "of unlimited" is over the mean of the two unlimited walls.

Standard library only. Usually run through `scripts/bench-ratelimit`, which
makes the bench's venv (with `ofsc`) and builds the release binaries first.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "fixtures" / "ratelimited"
RUN_TIMEOUT = 600  # seconds; slower than this is broken, not slow


class Mock:
    """pacer-mockapi on an ephemeral port, stopped on exit."""

    def __init__(self, binary, limit, latency, kind, advertise="none", retry_after="seconds"):
        self.proc = subprocess.Popen(
            [
                binary,
                "--port", "0",
                "--limit", kind,
                "--rate", str(limit),
                "--burst", "5",
                "--window", "1",
                "--latency", str(latency),
                "--advertise", advertise,
                "--retry-after", retry_after,
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

    def admissions(self):
        """Seconds from the first accepted request to each accepted one."""
        with urllib.request.urlopen(self.url + "/__admissions", timeout=10) as r:
            return json.loads(r.read())

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


def steady_rate(admissions):
    """Accepted requests/s between the 10% and the 90% marks of the calls:
    the suite's pace once every worker is busy, without the start-up ramp
    and the tail of the last tests' sequential calls."""
    n = len(admissions)
    low, high = n // 10, (n * 9) // 10
    if high <= low or admissions[high] <= admissions[low]:
        return None
    return (high - low) / (admissions[high] - admissions[low])


def run(cmd, env, mock, calls):
    mock.reset()
    start = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=SUITE, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    wall = time.monotonic() - start
    out = proc.stdout + proc.stderr
    c = counts(proc.stdout)
    admissions = mock.admissions()
    return {
        "wall": wall,
        "code": proc.returncode,
        "passed": c.get("passed", 0),
        "failed": c.get("failed", 0) + c.get("error", 0),
        "mock": mock.stats(),
        "admissions": admissions,
        "steady": steady_rate(admissions),
        "output": out,
    }


def proxy_figures(output):
    """Figures from pacer's statistics block."""
    retry = re.search(r"retry rate ([\d.]+)%", output)
    requests = re.search(r"requests (\d+), retried (\d+), 429 seen (\d+)", output)
    achieved = re.search(r"achieved ([\d.]+) req/s, quota (\S+)( \([^)]*\))?; (.*)", output)
    settled = re.search(r"rate settled at ([\d.]+) req/s", output)
    return {
        "retry_rate": float(retry.group(1)) / 100 if retry else None,
        "retried": int(requests.group(2)) if requests else None,
        "seen_429": int(requests.group(3)) if requests else None,
        "quota": (achieved.group(2) + (" learned" if achieved.group(3) and "advertised" in achieved.group(3) else "")) if achieved else "-",
        "held": achieved.group(4).split(" (")[0].replace("held back mostly by ", "") if achieved else "-",
        "settled": float(settled.group(1)) if settled else None,
    }


KINDS = [
    # (label, --limit, --advertise when learning, --retry-after)
    ("token bucket, burst 5", "token-bucket", "ietf", "fractional"),
    ("fixed window", "fixed-window", "x-ratelimit", "seconds"),
    ("sliding window", "sliding-window", "ietf", "http-date"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", required=True, help="a Python with pytest, pytest-xdist and ofsc")
    ap.add_argument("--pacer", required=True, help="the pacer binary")
    ap.add_argument("--mock", required=True, help="the pacer-mockapi binary")
    ap.add_argument("--tests", type=int, default=50)
    ap.add_argument("--calls", type=int, default=4)
    ap.add_argument("--limit", type=float, default=40.0, help="the mock's requests/s")
    ap.add_argument("--latency", type=float, default=0.1, help="seconds per call")
    ap.add_argument("--xdist", type=int, default=8, help="pytest -n N")
    ap.add_argument("--kinds", default="all", help="comma-separated: token-bucket,fixed-window,sliding-window")
    ap.add_argument("--show-output", action="store_true", help="print each run's output")
    ap.add_argument("--client", choices=["light", "heavy"], default="light",
                    help="light: issue 9's matrix (module-scoped client, models off); "
                    "heavy: issue 19's suite near the limit (client per test, models on, CPU per call)")
    ap.add_argument("--cpu-ms", type=float, default=None,
                    help="--client heavy: milliseconds of work per call in the test: CPU "
                    f"(default {HEAVY_CPU_MS:g}), or the sleep's mean under --work sleep (default {HEAVY_SLEEP_MS:g})")
    ap.add_argument("--work", choices=["cpu", "sleep"], default="cpu",
                    help="--client heavy: the per-call work as CPU (shared with the machine) or as a "
                    "seeded exponential sleep around --cpu-ms (steady on a shared machine)")
    ap.add_argument("--limit-from", choices=["pace", "whole"], default="pace",
                    help="--client heavy without --limit: the limit is 40/41 of the unlimited run's pace in "
                    "its middle (pace, the issue's suite just over its API's limit), or of its rate over "
                    "the whole run, start-up and tail included (whole: a limit under the suite's pace)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="--client heavy: repeat the whole measurement, report medians")
    args = ap.parse_args()
    for name in ("python", "pacer", "mock"):
        value = getattr(args, name)
        if os.sep in value:
            setattr(args, name, os.path.abspath(value))

    if args.client == "heavy":
        if args.cpu_ms is None:
            args.cpu_ms = HEAVY_CPU_MS if args.work == "cpu" else HEAVY_SLEEP_MS
        return heavy(args)
    calls = args.tests * args.calls
    env = dict(os.environ)
    env.pop("PACER_UPSTREAM_API", None)
    env.update(RATELIMITED_TESTS=str(args.tests), RATELIMITED_CALLS=str(args.calls))
    paths = ["ofsc"]
    kinds = [k for k in KINDS if args.kinds == "all" or k[1] in args.kinds.split(",")]
    print(
        f"suite: {args.tests} end-to-end tests x {args.calls} calls = {calls} calls with the "
        f"ofsc client; mock: {args.limit:g} requests/s, {args.latency:g} s latency; "
        f"machine: {os.cpu_count()} cores",
        flush=True,
    )

    rows = []
    # Without the proxy, for reference.
    mock = Mock(args.mock, args.limit, args.latency, "sliding-window", retry_after="http-date")
    try:
        cmd = [args.python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", str(args.xdist), *paths]
        print(f"running pytest -n {args.xdist} ...", file=sys.stderr, flush=True)
        r = run(cmd, dict(env, PACER_UPSTREAM_API=mock.url), mock, calls)
        r.update(label=f"pytest -n {args.xdist}, no proxy", server="sliding window", target=None, proxy=None)
        rows.append(r)
    finally:
        mock.stop()

    for label, kind, advertise, retry_after in kinds:
        cases = [
            ("rate right", ["--rate", f"{args.limit:g}"], "none", 0.90, 0.05),
            ("2.5x too high", ["--rate", f"{args.limit * 2.5:g}"], "none", 0.85, 0.05),
            (f"not configured, {advertise}", [], advertise, 0.90, 0.02),
        ]
        for case, flags, adv, share_target, retry_target in cases:
            mock = Mock(args.mock, args.limit, args.latency, kind, adv, retry_after)
            try:
                cmd = [
                    args.pacer, "--python", args.python,
                    "--upstream", f"api={mock.url}", *flags,
                    *paths, "--", "-p", "no:cacheprovider",
                ]
                print(f"running {label}: {case} ...", file=sys.stderr, flush=True)
                r = run(cmd, env, mock, calls)
            finally:
                mock.stop()
            r.update(label=case, server=label, target=(share_target, retry_target))
            r["proxy"] = proxy_figures(r["output"])
            if args.show_output:
                print(r["output"])
            rows.append(r)

    print()
    header = (
        f"{'server':<22} {'pacer':<26} {'wall':>6} {'passed':>6} {'failed':>6} "
        f"{'of limit':>8} {'429s':>5} {'retry rate':>10} {'quota':>12}  held back by"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for r in rows:
        m = r["mock"]
        share = m["achieved_rate"] / args.limit
        p = r.get("proxy")
        line = (
            f"{r['server']:<22} {r['label']:<26} {r['wall']:>5.1f}s {r['passed']:>6} {r['failed']:>6} "
            f"{share * 100:>7.0f}% {m['rejected']:>5} "
        )
        if p:
            rr = p["retry_rate"]
            line += f"{(rr or 0) * 100:>9.1f}% {p['quota']:>12}  {p['held']}"
            share_target, retry_target = r["target"]
            checks = {
                "0 failed": r["failed"] == 0 and r["passed"] == args.tests,
                f"achieved >= {share_target:.0%}": share >= share_target,
                f"retry rate <= {retry_target:.0%}": rr is not None and rr <= retry_target,
            }
            missed = [k for k, good in checks.items() if not good]
            if missed:
                ok = False
                line += "   MISSED: " + ", ".join(missed)
        else:
            line += f"{'-':>10}"
        print(line)
    print()
    print("issue 9's targets (0 failed; >= 90% of the limit right or learned, >= 85% at 2.5x;"
          " retry rate <= 5%, <= 2% where advertised):", "met" if ok else "NOT met")
    return 0 if ok else 1


# The heavy client's CPU per call: the real ofsc 2.24.1 client spends about
# 1.2 ms of CPU per call against the mock (built per test, models on); the
# issue's client spends far more on its models. 30 ms puts this 2-core
# machine's reachable rate a little above 40 req/s with 10 io workers and
# 0.1 s latency, the shape (about 41 reachable).
HEAVY_CPU_MS = 30.0
# Under --work sleep: the client time per call (10 workers / 41 req/s
# less the 0.1 s latency), so the reachable rate is the 41.
HEAVY_SLEEP_MS = 144.0
# The limit against its reachable rate: 40 against 41.
HEAVY_LIMIT_SHARE = 40.0 / 41.0
# Any rate no one reaches: "no limit configured" for the reachable run.
UNLIMITED = 1_000_000


def per_second(admissions):
    """Accepted requests in each second from the first accepted one."""
    if not admissions:
        return []
    out = [0] * (int(admissions[-1]) + 1)
    for t in admissions:
        out[int(t)] += 1
    return out


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def heavy(args):
    """Issue 19: the suite itself runs near the limit."""
    calls = args.tests * args.calls
    env = dict(os.environ)
    env.pop("PACER_UPSTREAM_API", None)
    env.update(
        RATELIMITED_TESTS=str(args.tests),
        RATELIMITED_CALLS=str(args.calls),
        RATELIMITED_CPU_MS=f"{args.cpu_ms:g}",
        RATELIMITED_WORK=args.work,
    )
    print(
        f"suite: {args.tests} end-to-end tests x {args.calls} calls = {calls} calls with the ofsc "
        f"client built per test, models on, "
        + (f"{args.cpu_ms:g} ms CPU per call" if args.work == "cpu" else f"a sleep of {args.cpu_ms:g} ms on average per call")
        + "; 10 io workers "
        f"(the end-to-end category's cap); mock latency {args.latency:g} s; "
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    def once(kind, limit, rate, retry_after="seconds"):
        mock = Mock(args.mock, limit, args.latency, kind, "none", retry_after)
        try:
            cmd = [
                args.pacer, "--python", args.python,
                "--upstream", f"api={mock.url}", "--rate", f"{rate:g}",
                "ofsc_heavy", "--", "-p", "no:cacheprovider",
            ]
            r = run(cmd, env, mock, calls)
        finally:
            mock.stop()
        r["proxy"] = proxy_figures(r["output"])
        secs = per_second(r["admissions"])
        r["first_second"] = secs[0] if secs else 0
        r["last_second"] = secs[-1] if secs else 0
        r["seconds"] = secs
        if args.show_output:
            print(r["output"])
        if r["failed"] or r["passed"] != args.tests:
            print(r["output"][-3000:], file=sys.stderr)
        return r

    rounds = []
    limit = args.limit if "--limit" in sys.argv else None
    for n in range(args.rounds):
        print(f"round {n + 1}: running the reachable rate (no limit) ...", file=sys.stderr, flush=True)
        free = once("none", 1, UNLIMITED)
        reachable = free["mock"]["achieved_rate"]
        pace = free["steady"] or reachable
        if limit is None:
            base = pace if args.limit_from == "pace" else reachable
            limit = max(1, math.floor(base * HEAVY_LIMIT_SHARE))
            print(f"reachable {reachable:.1f} req/s over the whole run, {pace:.1f} req/s in its middle "
                  f"(between the 10% and 90% marks of its calls): the limit is "
                  f"floor({base:.1f} x 40/41) = {limit} (--limit-from {args.limit_from})",
                  flush=True)
        row = {"reachable": reachable, "free": free, "kinds": {}}
        for label, kind, _, retry_after in KINDS:
            if args.kinds != "all" and kind not in args.kinds.split(","):
                continue
            print(f"round {n + 1}: running {label}, rate = {limit:g} ...", file=sys.stderr, flush=True)
            row["kinds"][label] = once(kind, limit, limit, retry_after)
        # The machine's load drifts (it is shared): the reachable rate is
        # measured again after the kinds, and their mean is the round's.
        print(f"round {n + 1}: running the reachable rate again ...", file=sys.stderr, flush=True)
        again = once("none", 1, UNLIMITED)
        row["reachable_runs"] = (reachable, again["mock"]["achieved_rate"])
        row["reachable"] = (reachable + again["mock"]["achieved_rate"]) / 2
        row["pace"] = (pace + (again["steady"] or again["mock"]["achieved_rate"])) / 2
        row["free"]["wall"] = (free["wall"] + again["wall"]) / 2
        rounds.append(row)

    print()
    header = (
        f"{'server':<22} {'round':>5} {'wall':>6} {'passed':>6} {'failed':>6} {'req/s':>6} "
        f"{'of reachable':>12} {'of limit':>8} {'middle':>6} {'of pace':>7} {'of limit':>8} "
        f"{'wall/free':>9} {'retry rate':>10} {'1st s':>5} {'last s':>6}  held back by"
    )
    print(f"limit {limit:g} req/s (mock and --rate); reachable measured per round")
    print(header)
    print("-" * len(header))
    ok = True
    summary = {}
    for n, row in enumerate(rounds, 1):
        free = row["free"]
        before_kinds, after_kinds = row["reachable_runs"]
        print(
            f"{'none (reachable)':<22} {n:>5} {free['wall']:>5.1f}s {free['passed']:>6} {free['failed']:>6} "
            f"{row['reachable']:>6.1f} {'':>12} {'':>8} {row['pace']:>6.1f} {'':>7} {'':>8} {'':>9} {'':>10} "
            f"{free['first_second']:>5} {free['last_second']:>6}"
            f"  (means of the runs before and after the kinds: {before_kinds:.1f} and {after_kinds:.1f} over the whole run)"
        )
        for label, r in row["kinds"].items():
            m, p = r["mock"], r["proxy"]
            share = m["achieved_rate"] / row["reachable"] if row["reachable"] else 0.0
            rr = p["retry_rate"]
            wall_ratio = r["wall"] / free["wall"]
            middle = r["steady"] or m["achieved_rate"]
            summary.setdefault(label, []).append(
                (share, rr, wall_ratio, r, m["achieved_rate"] / limit, middle / row["pace"], middle / limit)
            )
            print(
                f"{label:<22} {n:>5} {r['wall']:>5.1f}s {r['passed']:>6} {r['failed']:>6} "
                f"{m['achieved_rate']:>6.1f} {share * 100:>11.0f}% {m['achieved_rate'] / limit * 100:>7.0f}% "
                f"{middle:>6.1f} {middle / row['pace'] * 100:>6.0f}% {middle / limit * 100:>7.0f}% {wall_ratio:>8.2f}x "
                f"{(rr or 0) * 100:>9.1f}% {r['first_second']:>5} {r['last_second']:>6}  {p['held']}"
            )
    print()
    print(f"medians over {len(rounds)} round(s): reachable {median([r['reachable'] for r in rounds]):.1f} req/s "
          f"over the whole run, {median([r['pace'] for r in rounds]):.1f} req/s in its middle, "
          f"unlimited wall {median([r['free']['wall'] for r in rounds]):.1f} s")
    for label, values in summary.items():
        share = median([v[0] for v in values])
        rr = median([v[1] or 0 for v in values])
        wall_ratio = median([v[2] for v in values])
        target = 0.85 if "bucket" in label else 0.90
        failed = sum(v[3]["failed"] + (args.tests - v[3]["passed"] - v[3]["failed"]) for v in values)
        checks = {
            "0 failed": failed == 0,
            f"achieved >= {target:.0%} of reachable": share >= target,
            "retry rate <= 5%": rr <= 0.05,
        }
        missed = [k for k, good in checks.items() if not good]
        ok = ok and not missed
        of_limit = median([v[4] for v in values])
        line = (f"  {label:<22} {share * 100:5.1f}% of reachable ({of_limit * 100:.1f}% of the limit; "
                f"in the middle {median([v[5] for v in values]) * 100:.1f}% of the pace, "
                f"{median([v[6] for v in values]) * 100:.1f}% of the limit), "
                f"retry rate {rr * 100:.1f}%, "
                f"wall {wall_ratio:.2f}x unlimited")
        if missed:
            line += "   MISSED: " + ", ".join(missed)
        print(line)
        if args.show_output:
            for v in values:
                print(f"    per second: {v[3]['seconds']}")
    print()
    print("issue 19's targets (0 failed; >= 90% of reachable on fixed and sliding windows, >= 85% on"
          " the token bucket; retry rate <= 5%):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

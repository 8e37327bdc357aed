#!/usr/bin/env python3
"""Benchmark of the auto pool for suites that wait (issue 21; docs/benchmarks.md).

For each shape it times, on one machine, in one run:

    pytest -n auto        pytest-xdist, one worker per core
    pytest -n 4           pytest-xdist, four workers
    pacer -n 4            pacer, four workers
    pacer (cold)          pacer at its shipped defaults, nothing recorded
                          (its store is deleted before each run)
    pacer (warm)          pacer at its shipped defaults, after a run recorded
                          each test's wall and CPU time

Shapes: `io`, `mixed` and `cpu` of scripts/bench.py, and `wait`: a suite
like an API client's, 240 tests in 24 files calling a local HTTP server (one
per worker, a session fixture) whose handler sleeps 40 ms, with some
subprocesses and retry-style sleeps among them.

The machine is shared, so the script refuses to run when the 1-minute load
average is at or above `--max-load` (3 by default; `--force` runs anyway),
prints the load before and after each shape and the commit, rotates the
tools' order between repeats and shapes, and checks every run's counts.
Standard library only; usually run through scripts/bench-wait.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (scripts/bench.py: the shapes, the timing, the checks)

WAIT_CONFTEST = '''\
import http.server
import threading
import time

import pytest


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.040)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/" % httpd.server_address[1]
    httpd.shutdown()
'''


def gen_wait(root):
    files, per_file = 24, 10
    bench._write(root / "tests" / "conftest.py", WAIT_CONFTEST)
    for f in range(files):
        tests = []
        for i in range(per_file):
            if i == 0 and f % 4 == 0:
                tests.append(
                    f"def test_{i:02d}():\n"
                    f"    subprocess.run([sys.executable, '-c', 'import time; time.sleep(0.1)'], check=True)\n"
                )
            elif i == 1:
                tests.append(f"def test_{i:02d}(server):\n    time.sleep(0.05)  # a retry's backoff\n    assert get(server) == b'ok'\n")
            else:
                tests.append(f"def test_{i:02d}(server):\n    assert get(server) == b'ok'\n    assert get(server) == b'ok'\n")
        body = (
            "import subprocess\nimport sys\nimport time\nimport urllib.request\n\n\n"
            "def get(url):\n    with urllib.request.urlopen(url) as r:\n        return r.read()\n\n\n"
            + "\n\n".join(tests)
        )
        bench._write(root / "tests" / f"test_wait_{f:02d}.py", body)
    return {"passed": files * per_file}


SHAPES = {
    "io": (bench.gen_io, "200 tests x 50 ms sleep"),
    "mixed": (bench.gen_mixed, "4 x 1 s CPU among 600 x 2 ms"),
    "cpu": (bench.gen_cpu, "400 tests x 20 ms CPU"),
    "wait": (gen_wait, "240 tests calling a local HTTP server (40 ms a call), subprocesses, sleeps"),
}
TOOLS = ["xdist-auto", "xdist-4", "pacer-4", "cold", "warm"]


def load():
    return os.getloadavg()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="a Python with pytest and pytest-xdist")
    parser.add_argument("--pacer", required=True, help="the pacer binary")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-load", type=float, default=3.0)
    parser.add_argument("--force", action="store_true", help="run whatever the load")
    parser.add_argument("--before", help="an earlier pacer binary, timed at its defaults (warm) as one more column")
    args = parser.parse_args()
    tools = TOOLS + (["before"] if args.before else [])
    shapes = args.shapes.split(",")
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; choose from {', '.join(SHAPES)}")
    if load() >= args.max_load and not args.force:
        sys.exit(f"error: load average {load():.2f} >= {args.max_load}: the machine is busy; try later or pass --force")
    python, pacer = str(Path(args.python).absolute()), str(Path(args.pacer).absolute())
    env = bench.clean_env()
    commands = {
        "xdist-auto": [python, "-m", "pytest", "-p", "no:cacheprovider", "-n", "auto"],
        "xdist-4": [python, "-m", "pytest", "-p", "no:cacheprovider", "-n", "4"],
        "pacer-4": [pacer, "-n", "4", "--python", python],
        "cold": [pacer, "--python", python],
        "warm": [pacer, "--python", python],
    }
    if args.before:
        commands["before"] = [str(Path(args.before).absolute()), "--python", python]
    print(f"commit: {bench.commit()}; cores: {os.cpu_count()}; load at start: {load():.2f}; median of {args.repeat}")
    work = Path(tempfile.mkdtemp(prefix="pacer-bench-wait-"))
    rows, broken = [], False
    try:
        for n, shape in enumerate(shapes):
            generate, about = SHAPES[shape]
            suite = work / shape
            suite.mkdir()
            bench._write(suite / "pyproject.toml", bench.PYPROJECT.format(shape=shape))
            expected = generate(suite)
            print(f"\n{shape}: {about} (load {load():.2f})")
            subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"], cwd=suite, env=env, stdout=subprocess.DEVNULL)
            times = {tool: [] for tool in tools}
            said = ""
            for attempt in range(args.repeat):
                shift = (attempt + n) % len(tools)
                order = tools[shift:] + tools[:shift]
                for tool in order:
                    store = suite / ".pytest_cache" / "v" / "pacer"
                    if tool in ("cold", "warm", "before"):
                        shutil.rmtree(store, ignore_errors=True)
                    if tool in ("warm", "before"):
                        # Untimed: the run that records what the warm one sizes from.
                        bench.run_timed(commands[tool], suite, env)
                    result = bench.run_timed(commands[tool], suite, env)
                    why = bench.check(result, expected)
                    if why:
                        broken = True
                        print(f"  BROKEN {tool}: {why}\n" + "\n".join(result.output.splitlines()[-15:]))
                        continue
                    if tool == "warm":
                        said = next((l for l in result.output.splitlines() if "for tests that wait" in l), "pacer: the cores (no extra workers)")
                    times[tool].append(result.seconds)
                    print(f"  {tool:<10} run {attempt + 1}: {result.seconds:6.2f} s (load {load():.2f})", flush=True)
            row = {tool: statistics.median(t) if t else None for tool, t in times.items()}
            row.update(shape=shape, said=said, load=load())
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    before = " pacer before (warm) |" if args.before else ""
    print(f"\n| shape | pytest -n auto | pytest -n 4 | pacer -n 4 | pacer cold | pacer warm |{before} warm / best fixed -n | what warm pacer said |")
    print("|---|---:|---:|---:|---:|---:|" + ("---:|" if args.before else "") + "---:|---|")
    for r in rows:
        fixed = [r[t] for t in ("xdist-auto", "xdist-4", "pacer-4") if r[t] is not None]
        ratio = f"{r['warm'] / min(fixed):.2f}" if fixed and r["warm"] else "—"
        cells = " | ".join(bench.fmt_seconds(r[t]) for t in tools)
        print(f"| {r['shape']} | {cells} | {ratio} | {r['said'].strip()} |")
    print(f"\ncommit {bench.commit()}, load average at the end {load():.2f}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark of `pacer --changed` on a large real suite (issue 20; docs/benchmarks.md).

networkx 3.6.1's wheel (PyPI; its tests ship inside the package) is unpacked
into a git repository of its own (once, under --work), so that `--changed`
has a HEAD to compare against. Then, on one machine, in one run:

    import graph   `pacer --changed --dry-run` after a one-line edit, with
                   pacer's cache (.pacer/) deleted (cold) and kept (cached);
                   the time is the one pacer prints on its last line
    full run       `pacer` on the whole suite (warm: durations recorded)
    --changed      `pacer --changed` after a one-line edit of
                     a test file   (networkx/algorithms/tests/test_cycles.py)
                     a module      (networkx/algorithms/cycles.py, which
                                    `import networkx` imports, so every test)

Every edit appends a comment line and is undone with `git checkout` after
the run. The order of the timed runs rotates between repeats; every run's
counts are checked against pytest's own. Like the other benchmarks it refuses
to run on a busy machine (1-minute load average at or above --max-load) unless
--force, and prints the load and the commit. Standard library only; usually run
through scripts/bench-changed.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (scripts/bench.py: the timing, the counts, the commit)

NETWORKX = "networkx==3.6.1"
EDITS = {
    "test": "networkx/algorithms/tests/test_cycles.py",
    "module": "networkx/algorithms/cycles.py",
}
GRAPH_LINE = re.compile(r"import graph: (\d+) files, (\d+) read, ([\d.]+) ms")


def load():
    return os.getloadavg()[0]


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, stdout=subprocess.DEVNULL)


def prepare(work, python):
    """The networkx repository under `work`, made once."""
    repo = work / "networkx-repo"
    if (repo / ".git").is_dir():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    wheels = work / "wheels"
    subprocess.run(
        [python, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", "--only-binary", ":all:", "-d", str(wheels), NETWORKX],
        check=True,
    )
    wheel = next(wheels.glob("networkx-*.whl"))
    repo.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith("networkx/"):
                zf.extract(name, repo)
    (repo / "pytest.ini").write_text("[pytest]\n")
    (repo / ".gitignore").write_text(".pacer/\n.pytest_cache/\n__pycache__/\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", NETWORKX)
    return repo


def edit(repo, path):
    with open(repo / path, "a") as f:
        f.write("# a one-line change\n")


def undo(repo):
    git(repo, "checkout", "-q", "--", ".")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="a Python with pytest (networkx needs nothing else)")
    parser.add_argument("--pacer", required=True, help="the pacer binary")
    parser.add_argument("--work", required=True, help="a folder kept between runs (the repository is made once)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-load", type=float, default=3.0)
    parser.add_argument("--force", action="store_true", help="run whatever the load")
    args = parser.parse_args()
    if load() >= args.max_load and not args.force:
        sys.exit(f"error: load average {load():.2f} >= {args.max_load}: the machine is busy; try later or pass --force")
    python, pacer = str(Path(args.python).absolute()), str(Path(args.pacer).absolute())
    work = Path(args.work).absolute()
    repo = prepare(work, python)
    env = bench.clean_env()
    base = [pacer, "--python", python]
    print(f"commit: {bench.commit()}; {NETWORKX}; cores: {os.cpu_count()}; load at start: {load():.2f}; median of {args.repeat}")

    # What plain pytest says of the whole suite and of each edit's selection.
    expected = {}
    whole = bench.run_timed([python, "-m", "pytest", "-p", "no:cacheprovider"], repo, env)
    expected["full"] = (bench.final_counts(whole.output), whole.code)
    print(f"plain pytest: {expected['full'][0]} (exit {whole.code}) in {whole.seconds:.2f} s")
    # Untimed: records durations so that every timed pacer run is warm.
    bench.run_timed(base, repo, env)

    graph = {"cold": [], "cached": []}
    selected = {}
    for kind, path in EDITS.items():
        edit(repo, path)
        for state in ("cold", "cached"):
            if state == "cold":
                shutil.rmtree(repo / ".pacer", ignore_errors=True)
            dry = bench.run_timed(base + ["--changed", "--dry-run"], repo, env)
            match = GRAPH_LINE.search(dry.output)
            if not match:
                sys.exit(f"error: no 'import graph:' line in --dry-run's output:\n{dry.output[-2000:]}")
            files, read, ms = int(match[1]), int(match[2]), float(match[3])
            graph[state].append((files, read, ms))
        tail = [l for l in dry.output.splitlines() if "selected by --changed" in l]
        selected[kind] = tail[-1] if tail else "?"
        if "every test" in dry.output:
            expected[kind] = expected["full"]
        else:
            run = bench.run_timed([python, "-m", "pytest", "-p", "no:cacheprovider"] + sorted(_selected_files(dry.output)), repo, env)
            expected[kind] = (bench.final_counts(run.output), run.code)
        undo(repo)

    tools = ["full", "test", "module"]
    times = {t: [] for t in tools}
    broken = False
    for attempt in range(args.repeat):
        shift = attempt % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            if tool != "full":
                edit(repo, EDITS[tool])
            result = bench.run_timed(base + (["--changed"] if tool != "full" else []), repo, env)
            undo(repo)
            counts, code = expected[tool]
            why = bench.check(result, counts, code=code) if tool == "full" else _check_ran(result, counts, code)
            if why:
                broken = True
                print(f"  BROKEN {tool}: {why}\n" + "\n".join(result.output.splitlines()[-15:]))
                continue
            times[tool].append(result.seconds)
            print(f"  {tool:<7} run {attempt + 1}: {result.seconds:6.2f} s (load {load():.2f})", flush=True)

    print("\nImport graph (`--changed --dry-run`, the time pacer prints; median of the two edits):")
    print("| build | files | files read | ms |")
    print("|---|---:|---:|---:|")
    for state in ("cold", "cached"):
        rows = graph[state]
        print(f"| {state} | {rows[0][0]} | {rows[0][1]} | {statistics.median(r[2] for r in rows):.1f} |")
    print("\n| run | tests | wall | of the full run |")
    print("|---|---:|---:|---:|")
    full = statistics.median(times["full"]) if times["full"] else None
    labels = {
        "full": "`pacer` (whole suite, warm)",
        "test": f"`pacer --changed`, one line in {EDITS['test']}",
        "module": f"`pacer --changed`, one line in {EDITS['module']}",
    }
    for tool in tools:
        wall = statistics.median(times[tool]) if times[tool] else None
        tests = sum(expected[tool][0].values()) if expected[tool][0] else 0
        ratio = f"{wall / full:.2f}×" if wall and full else "—"
        print(f"| {labels[tool]} | {tests} | {bench.fmt_seconds(wall)} | {ratio} |")
    for kind, line in selected.items():
        print(f"{kind}: {line.strip()}")
    print(f"\ncommit {bench.commit()}, load average at the end {load():.2f}")
    return 1 if broken else 0


def _check_ran(result, expected, code):
    """A --changed run ran what plain pytest runs on the selected files.

    Skips are not compared: pacer collects the whole suite and deselects, so
    module-level skips (`importorskip`) of files it did not select count as
    skipped, as under `pytest -k`; nor is `deselected`.
    """
    if result.code != code:
        return f"exit code {result.code}, expected {code}"
    counts = bench.final_counts(result.output) or {}
    ran = {k: v for k, v in counts.items() if k not in ("skipped", "deselected")}
    want = {k: v for k, v in expected.items() if k not in ("skipped", "deselected")}
    return None if ran == want else f"counts {counts}, expected {expected} (skips aside)"


def _selected_files(dry_output):
    """The files `--dry-run` lists (`path (N tests): reason`), for plain pytest's count."""
    files = set()
    for line in dry_output.splitlines():
        m = re.match(r"^(\S+\.py) \(\d+ tests?\)", line)
        if m:
            files.add(m[1])
    return files


if __name__ == "__main__":
    sys.exit(main())

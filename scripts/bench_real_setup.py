"""Prepares real third-party suites for scripts/bench --suite. Standard library only.

Run by scripts/bench-real-setup. Each suite gets a folder of its own under the
cache folder (target/bench-real/<suite>/) holding a venv with exact pins
(wheels only) and, for jsonschema, the unpacked sdist. A folder is re-used
when its marker file (.complete) records the same pins, arguments and
interpreter; otherwise the venv is made again from scratch (a downloaded sdist
is kept). A suite is complete only after one plain pytest run of it exited 0.

  jsonschema  jsonschema 4.26.0's sdist (PyPI), unpacked into src/ and
              installed into the venv with its `format` extra and its `test`
              dependency group (jsonpath-ng; virtue, its own runner, is not
              needed). The suite is jsonschema/tests, run from the unpacked
              folder (the tests find the JSON-Schema-Test-Suite in its json/).
  pandas      pandas 2.3.3's wheel with its `test` extra (hypothesis, pytest,
              pytest-xdist); the suite is `--pyargs pandas.tests.indexes`, run
              from the empty folder run/ (the tests live in site-packages).

pytest and pytest-xdist are pinned as in requirements-dev.txt. The other pins
are what pip resolved on Python 3.11 (frozen), except python-dateutil for
pandas: 4.0.0 breaks pandas 2.3.3's dateutil time zones (274 tests fail), so
it is held at 2.9.0.post0. Nothing the suites run needs the network.

At the end it prints, for each suite, the scripts/bench command that times it.
With --verify it also runs each suite once under plain pytest and once under
pytest -n 2 and prints their counts and wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

# --- the suites ------------------------------------------------------------------


@dataclass
class Suite:
    name: str
    pins: list[str]  # wheels, pip install --only-binary :all: (plus pytest, pytest-xdist)
    args: str  # pytest's arguments: the bench's --suite-args (split on whitespace)
    expected: int  # tests plain pytest reports (all outcomes); a warning when it differs
    sdist: str | None = None  # name==version, pip download --no-binary :all:, installed --no-deps
    folder: str | None = None  # the folder the sdist unpacks to: the suite's folder
    # with no sdist: the suite runs from home/run, an empty folder


# Test dependencies besides pytest and pytest-xdist (their own dependencies included).
PYTEST_DEPS = [
    "execnet==2.1.2",
    "iniconfig==2.3.1",
    "packaging==26.4",
    "pluggy==1.7.0",
    "Pygments==2.21.0",
]

SUITES = {
    "jsonschema": Suite(
        name="jsonschema",
        sdist="jsonschema==4.26.0",
        folder="jsonschema-4.26.0",
        pins=[
            # jsonschema's dependencies
            "attrs==26.1.0",
            "jsonschema-specifications==2025.9.1",
            "referencing==0.37.0",
            "rpds-py==2026.9.1",
            "typing_extensions==4.16.0",
            # its `format` extra (without it 474 more format tests are skipped)
            "arrow==1.4.0",
            "fqdn==1.6.0",
            "idna==3.21",
            "isoduration==20.11.0",
            "jsonpointer==3.12",
            "python-dateutil==4.0.0",
            "rfc3339-validator==0.1.4",
            "rfc3987==1.3.8",
            "six==1.17.0",
            "tzdata==2026.6",
            "uri-template==1.3.0",
            "webcolors==25.10.0",
            # its `test` dependency group (less virtue, its own runner)
            "jsonpath-ng==1.17.0",
            *PYTEST_DEPS,
        ],
        args="jsonschema/tests",
        expected=7815,  # 7762 passed, 53 skipped (unsupported on purpose)
    ),
    "pandas": Suite(
        name="pandas",
        pins=[
            "pandas==2.3.3",
            "numpy==2.4.6",
            "python-dateutil==2.9.0.post0",
            "pytz==2026.6",
            "tzdata==2026.6",
            "six==1.17.0",
            # its `test` extra
            "hypothesis==6.170.27",
            "sortedcontainers==2.4.0",
            *PYTEST_DEPS,
        ],
        args="--pyargs pandas.tests.indexes",
        expected=17005,  # 16616 passed, 336 skipped, 47 xfailed, 6 xpassed
    ),
}

MARKER = ".complete"

# --- helpers ---------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"bench-real-setup: {msg}", file=sys.stderr, flush=True)


def pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
    )


def dev_pins(requirements: Path) -> list[str]:
    """pytest's and pytest-xdist's pins from requirements-dev.txt."""
    found = {}
    for line in requirements.read_text().splitlines():
        m = re.match(r"\s*(pytest|pytest-xdist)\s*==\s*([^\s;#]+)", line)
        if m:
            found[m.group(1)] = f"{m.group(1)}=={m.group(2)}"
    missing = {"pytest", "pytest-xdist"} - set(found)
    if missing:
        raise SystemExit(f"bench-real-setup: {requirements} pins no {', '.join(sorted(missing))}")
    return [found["pytest"], found["pytest-xdist"]]


def clean_env(python: Path) -> dict[str, str]:
    """As scripts/bench runs the suites: no PYTEST_*/PACER_* settings, no outer venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PACER_"))}
    for k in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):
        env.pop(k, None)
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def final_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if re.search(r"\b(passed|failed|skipped|error|errors|no tests ran)\b.* in [0-9.]+s", line):
            return line.strip().strip("=").strip()
    return ""


def total(line: str) -> int:
    counts = re.findall(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?)\b", line)
    return sum(int(n) for n, _ in counts)


@dataclass
class Run:
    label: str
    rc: int
    seconds: float
    summary: str
    log: Path


def run_pytest(suite: Suite, python: Path, cwd: Path, home: Path, label: str,
               extra: list[str], timeout: float) -> Run:
    cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra,
           *suite.args.split()]
    logfile = home / f"{label}.log"
    log(f"{suite.name}: {shlex.join(cmd)}  (in {cwd}, log {logfile})")
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=clean_env(python), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        rc, out = proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        rc, out = -1, (e.stdout or b"").decode("utf-8", "replace") + f"\ntimed out after {timeout:.0f} s\n"
    seconds = time.monotonic() - start
    logfile.write_text(f"$ cd {cwd} && {shlex.join(cmd)}\n{out}")
    summary = final_line(out)
    log(f"{suite.name}: exit {rc}, {seconds:.1f} s: {summary or 'no final line'}")
    return Run(label, rc, seconds, summary, logfile)


# --- setup -----------------------------------------------------------------------


def paths(suite: Suite, home: Path) -> tuple[Path, Path]:
    """The venv's python and the folder the suite runs from."""
    python = home / "venv" / "bin" / "python"
    cwd = home / "src" / suite.folder if suite.sdist else home / "run"
    return python, cwd


def fingerprint(suite: Suite, pins: list[str], base_python: str) -> dict:
    version = subprocess.run([base_python, "-c", "import sys; print(sys.version)"],
                             check=True, capture_output=True, text=True).stdout.strip()
    return {"suite": suite.name, "sdist": suite.sdist, "pins": pins, "args": suite.args,
            "python": version}


def read_marker(home: Path) -> dict | None:
    try:
        return json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return None


def setup(suite: Suite, home: Path, pins: list[str], base_python: str, timeout: float) -> dict:
    """Makes home complete (or finds it so); returns its marker."""
    want = fingerprint(suite, pins, base_python)
    have = read_marker(home)
    python, cwd = paths(suite, home)
    if have is not None and have.get("setup") == want and python.exists() and cwd.is_dir():
        log(f"{suite.name}: {home} is complete (re-used; delete {home / MARKER} to redo it)")
        return have
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).unlink(missing_ok=True)

    venv = home / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    log(f"{suite.name}: making {venv} with {base_python}")
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    req = home / "requirements.txt"
    req.write_text("\n".join(pins) + "\n")
    log(f"{suite.name}: installing {len(pins)} pinned wheels ({req})")
    pip(python, "install", "--only-binary", ":all:", "-r", str(req))

    if suite.sdist:
        dl = home / "sdist"
        dl.mkdir(exist_ok=True)
        if not any(dl.glob("*.tar.gz")):
            log(f"{suite.name}: downloading the sdist of {suite.sdist} (pip builds its metadata: ~40 s)")
            pip(python, "download", "--no-deps", "--no-binary", ":all:", "-d", str(dl), suite.sdist)
        (archive,) = dl.glob("*.tar.gz")
        src, tmp = home / "src", home / "src.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        log(f"{suite.name}: unpacking {archive.name} into {src}")
        with tarfile.open(archive) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
        if not (tmp / suite.folder).is_dir():
            raise SystemExit(f"bench-real-setup: {archive.name} has no {suite.folder}/")
        shutil.rmtree(src, ignore_errors=True)
        tmp.rename(src)
        log(f"{suite.name}: installing {suite.folder} itself (--no-deps)")
        pip(python, "install", "--no-deps", str(cwd))
    else:
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir()
    pip(python, "check")

    # Complete once plain pytest passes it (this run also compiles the bytecode).
    r = run_pytest(suite, python, cwd, home, "setup-pytest", [], timeout)
    if r.rc != 0:
        raise SystemExit(f"bench-real-setup: {suite.name}: plain pytest exited {r.rc}; see {r.log}")
    if total(r.summary) != suite.expected:
        log(f"{suite.name}: WARNING: {total(r.summary)} tests, expected {suite.expected}")
    marker = {"setup": want, "plain_pytest": r.summary, "seconds": round(r.seconds, 1)}
    (home / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    log(f"{suite.name}: complete ({home / MARKER})")
    return marker


# --- main ------------------------------------------------------------------------


def shown(path: Path, root: Path) -> str:
    """path relative to the repository root when inside it (scripts/bench runs from there)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suites", nargs="*", metavar="SUITE",
                    help=f"{', '.join(SUITES)} (default: all)")
    ap.add_argument("--cache", required=True, type=Path, help="the folder the suites go in")
    ap.add_argument("--root", required=True, type=Path, help="the repository")
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter the venvs are made with")
    ap.add_argument("--verify", action="store_true",
                    help="also run each suite under plain pytest and pytest -n 2")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed to one pytest run")
    opts = ap.parse_args()
    names = opts.suites or list(SUITES)
    for name in names:
        if name not in SUITES:
            ap.error(f"unknown suite {name!r}: choose from {', '.join(SUITES)}")
    probe = subprocess.run([opts.python, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != "True":
        raise SystemExit(f"bench-real-setup: {opts.python} is not Python 3.11 or newer "
                         "(numpy 2.4.6, pinned for pandas, needs it); set BENCH_REAL_PYTHON")
    root = opts.root.resolve()
    cache = opts.cache.resolve()
    pins = dev_pins(root / "requirements-dev.txt")

    done = []
    for name in names:
        suite = SUITES[name]
        home = cache / name
        try:
            marker = setup(suite, home, pins + suite.pins, opts.python, opts.timeout)
        except (subprocess.CalledProcessError, OSError, ValueError) as e:
            log(f"{name}: setup failed: {e}")
            return 2
        done.append((suite, home, marker))

    runs = []
    if opts.verify:
        for suite, home, _ in done:
            python, cwd = paths(suite, home)
            for label, extra in (("pytest", []), ("xdist", ["-n", "2"])):
                runs.append((suite, run_pytest(suite, python, cwd, home, f"verify-{label}",
                                               extra, opts.timeout)))

    print()
    for suite, home, marker in done:
        print(f"{suite.name}: ready in {shown(home, root)} (plain pytest at setup: "
              f"{marker['plain_pytest']})")
    if runs:
        print()
        print(f"{'suite':<11} {'run':<22} {'exit':>4} {'wall s':>7}  final line")
        for suite, r in runs:
            what = "pytest -q" if r.label == "verify-pytest" else "pytest -q -n 2"
            print(f"{suite.name:<11} {what:<22} {r.rc:>4} {r.seconds:>7.1f}  {r.summary}")
    print()
    print(f"# time them (from {root}):")
    for suite, home, _ in done:
        python, cwd = paths(suite, home)
        print(shlex.join(["scripts/bench", "--suite", shown(cwd, root),
                          "--suite-args", suite.args, "--python", shown(python, root)]))
    bad = [r for _, r in runs if r.rc != 0]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

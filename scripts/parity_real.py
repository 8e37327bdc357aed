"""pacer against plain pytest and pytest-xdist on two real third-party suites.

Run by scripts/parity-real, which builds pacer first. Standard library only.

For each suite: a venv of its own under the cache folder (re-used while its pins
are unchanged), the suite's sdist from PyPI unpacked there, then three runs of
the same pytest arguments from the unpacked folder:

  pytest  python -m pytest -p no:cacheprovider ARGS --junitxml pytest.xml
  xdist   python -m pytest -n 2 -p no:cacheprovider ARGS --junitxml xdist.xml
  pacer   pacer --python VENV_PYTHON $PARITY_PACER_ARGS -p no:cacheprovider ARGS
                --junitxml pacer.xml        (PARITY_PACER_ARGS: default "-n 2")

Every test's outcome is read from the JUnit files and compared with plain
pytest's. Exit 0 only when pacer's outcomes equal plain pytest's for every
test of every suite that ran; 1 otherwise; 2 when a suite could not be set up.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

# --- the suites ----------------------------------------------------------------


@dataclass
class Suite:
    name: str
    sdist: str  # name==version, fetched with pip download --no-binary :all:
    folder: str  # the folder the sdist unpacks to; the runs start there
    pins: list[str]  # everything the venv gets (pip install, exact versions)
    args: list[str]  # pytest's arguments, the same for the three runners
    expected: str  # what the suite's own report says plain pytest gives
    env: dict[str, str] = field(default_factory=dict)


SUITES = {
    # django-rest-framework's sdist ships tests/ (with tests/conftest.py, which
    # configures Django itself: no runtests.py, no DJANGO_SETTINGS_MODULE) and
    # its pytest config in pyproject.toml's [tool.pytest] (pytest 9's TOML
    # table). Pins: the `test` and `optional` dependency groups of its
    # pyproject.toml (less pytest-cov, unused here), resolved by pip on Python
    # 3.11 and frozen, Django 5.2 LTS (Django 6 needs Python >= 3.12). Without
    # psycopg, as in the issue report: with it, 4 of the 13 skipped tests run
    # and pass (1655 passed, 9 skipped). The SQLite databases are in memory,
    # per process.
    "drf": Suite(
        name="drf",
        sdist="djangorestframework==3.18.3",
        folder="djangorestframework-3.18.3",
        pins=[
            "Django==5.2.20",
            "asgiref==3.13.0",
            "sqlparse==0.6.1",
            "pytest==9.2.0",
            "iniconfig==2.3.1",
            "packaging==26.4",
            "pluggy==1.7.0",
            "pytest-django==4.14.0",
            "pytest-xdist==3.8.0",
            "execnet==2.1.2",
            "dj-database-url==3.1.2",
            "importlib-metadata==9.1.0",
            "zipp==4.1.2",
            "typing-extensions==4.16.0",
            "django-filter==26.2",
            "django-guardian==3.5.2",
            "inflection==0.5.1",
            "legacy-cgi==2.6.4; python_version>='3.13'",
            "Markdown==3.11.4",
            "Pygments==2.21.0",
            "PyYAML==6.0.4",
            "requests==2.34.2",
            "certifi==2026.10.19.post1",
            "charset-normalizer==3.5.3",
            "idna==3.21",
            "urllib3==2.8.0",
            "uritemplate==4.2.0",
        ],
        args=["tests"],
        expected="1651 passed, 13 skipped (issue report)",
    ),
    # pytest's sdist ships testing/ and its config ([tool.pytest] in
    # pyproject.toml: -p pytester, filterwarnings=error, strict). pytest 9.2.0
    # itself is the pytest of the venv (the suite tests the installed pytest;
    # the wheel holds the same code as the sdist's src/). Pins: the `dev`
    # extra of its pyproject.toml at the versions of the sdist's uv.lock.
    "pytest": Suite(
        name="pytest",
        sdist="pytest==9.2.0",
        folder="pytest-9.2.0",
        pins=[
            "pytest==9.2.0",
            "iniconfig==2.3.0",
            "packaging==25.0",
            "pluggy==1.6.0",
            "Pygments==2.19.2",
            "argcomplete==3.6.3",
            "attrs==25.4.0",
            "coverage==7.13.1",
            "hypothesis==6.150.0",
            "sortedcontainers==2.4.0",
            "mock==5.2.0",
            "numpy==2.2.6; python_version<'3.11'",
            "numpy==2.4.1; python_version>='3.11'",
            "pexpect==4.9.0",
            "ptyprocess==0.7.0",
            "pytest-xdist==3.8.0",
            "execnet==2.1.2",
            "PyYAML==6.0.3",
            "requests==2.32.5",
            "certifi==2026.1.4",
            "charset-normalizer==3.4.4",
            "idna==3.11",
            "urllib3==2.6.3",
            "setuptools==80.9.0",
            "xmlschema==4.3.0",
            "elementpath==5.1.0",
        ],
        args=[
            "testing/python",
            "testing/test_terminal.py",
            "testing/test_junitxml.py",
            "testing/logging",
        ],
        expected="0 failed (issue report)",
        # pytest's suite reads these; keep the runs alike and the machine's
        # own settings out.
        env={"PYTEST_ADDOPTS": "", "PY_COLORS": "0"},
    ),
}

RUNNERS = ("pytest", "xdist", "pacer")

# --- setup ----------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"parity-real: {msg}", file=sys.stderr, flush=True)


def pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
    )


def setup(suite: Suite, home: Path, base_python: str) -> tuple[Path, Path]:
    """The suite's venv python and its unpacked source folder."""
    home.mkdir(parents=True, exist_ok=True)
    venv = home / "venv"
    python = venv / "bin" / "python"
    pins = "\n".join(suite.pins) + "\n"
    stamp = venv / ".parity-pins.txt"
    if not python.exists():
        log(f"{suite.name}: making {venv}")
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != pins:
        log(f"{suite.name}: installing {len(suite.pins)} pinned packages")
        req = home / "requirements.txt"
        req.write_text(pins)
        pip(python, "install", "--only-binary", ":all:", "-r", str(req))
        stamp.write_text(pins)
    src = home / "src"
    tree = src / suite.folder
    if not tree.is_dir():
        dl = home / "sdist"
        dl.mkdir(exist_ok=True)
        if not any(dl.glob("*.tar.gz")):
            log(f"{suite.name}: downloading the sdist of {suite.sdist}")
            pip(python, "download", "--no-deps", "--no-binary", ":all:",
                "-d", str(dl), suite.sdist)
        (archive,) = dl.glob("*.tar.gz")
        tmp = home / "src.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        with tarfile.open(archive) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
        shutil.rmtree(src, ignore_errors=True)
        tmp.rename(src)
        if not tree.is_dir():
            raise SystemExit(f"parity-real: {archive.name} has no {suite.folder}/")
    return python, tree


# --- runs -----------------------------------------------------------------------


@dataclass
class Run:
    runner: str
    cmd: list[str]
    rc: int
    seconds: float
    outcomes: dict[str, tuple[str, str]]  # test id -> (outcome, first line of message)
    log: Path


def command(runner: str, python: Path, pacer: Path, pacer_args: list[str],
            args: list[str], xml: Path) -> list[str]:
    common = ["-p", "no:cacheprovider", *args, "--junitxml", str(xml)]
    if runner == "pytest":
        return [str(python), "-m", "pytest", *common]
    if runner == "xdist":
        return [str(python), "-m", "pytest", "-n", "2", *common]
    return [str(pacer), "--python", str(python), *pacer_args, *common]


def run(runner: str, suite: Suite, python: Path, tree: Path, out: Path,
        pacer: Path, pacer_args: list[str], timeout: float) -> Run:
    xml = out / f"{runner}.xml"
    logfile = out / f"{runner}.log"
    xml.unlink(missing_ok=True)
    cmd = command(runner, python, pacer, pacer_args, suite.args, xml)
    env = dict(os.environ)
    for k in ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_XDIST_WORKER",
              "PYTEST_XDIST_WORKER_COUNT", "PYTEST_PLUGINS"):
        env.pop(k, None)
    env.update(suite.env)
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    log(f"{suite.name}/{runner}: {shlex.join(cmd)}  (in {tree}, log {logfile})")
    start = time.monotonic()
    with open(logfile, "wb") as fh:
        fh.write(f"$ cd {tree} && {shlex.join(cmd)}\n".encode())
        fh.flush()
        try:
            rc = subprocess.run(cmd, cwd=tree, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = -1
            fh.write(f"\nparity-real: timed out after {timeout:.0f} s\n".encode())
    seconds = time.monotonic() - start
    outcomes = read_junit(xml) if xml.exists() else {}
    log(f"{suite.name}/{runner}: exit {rc}, {seconds:.1f} s, {len(outcomes)} tests in the JUnit file")
    return Run(runner, cmd, rc, seconds, outcomes, logfile)


def first_line(el: ET.Element) -> str:
    msg = el.get("message") or (el.text or "")
    for line in msg.strip().splitlines():
        if line.strip():
            return line.strip()[:160]
    return ""


def read_junit(path: Path) -> dict[str, tuple[str, str]]:
    """Test id -> (outcome, message). The id is classname::name (what the JUnit
    file holds); an outcome is passed, failed, error, skipped, xfailed, or a
    '+'-joined mix when a testcase holds more than one (a failure and a
    teardown error)."""
    out: dict[str, tuple[str, str]] = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        tid = f"{tc.get('classname', '')}::{tc.get('name', '')}"
        kinds, msg = [], ""
        for child in tc:
            if child.tag == "failure":
                kinds.append("failed")
            elif child.tag == "error":
                kinds.append("error")
            elif child.tag == "skipped":
                kinds.append("xfailed" if child.get("type") == "pytest.xfail" else "skipped")
            else:
                continue
            msg = msg or first_line(child)
        outcome = "+".join(sorted(set(kinds))) or "passed"
        key, n = tid, 1
        while key in out:  # the same id twice: keep both
            n += 1
            key = f"{tid} #{n}"
        out[key] = (outcome, msg)
    return out


def counts(outcomes: dict[str, tuple[str, str]]) -> dict[str, int]:
    c = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "error": 0}
    for outcome, _ in outcomes.values():
        for kind in outcome.split("+"):
            c[kind] += 1
    return c


def differences(base: Run, other: Run) -> list[tuple[str, str, str, str]]:
    """(test id, pytest's outcome, other's outcome, other's message)."""
    diffs = []
    for tid in sorted(set(base.outcomes) | set(other.outcomes)):
        a = base.outcomes.get(tid, ("absent", ""))
        b = other.outcomes.get(tid, ("absent", ""))
        if a[0] != b[0]:
            diffs.append((tid, a[0], b[0], b[1] or a[1]))
    return diffs


# --- main -----------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suites", nargs="*", metavar="SUITE",
                    help="drf, pytest (default: both)")
    ap.add_argument("--pacer", required=True, type=Path)
    ap.add_argument("--cache", required=True, type=Path)
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter the venvs are made with")
    ap.add_argument("--runners", default=os.environ.get("PARITY_RUNNERS", ",".join(RUNNERS)),
                    help="comma-separated, of pytest, xdist, pacer (pytest always runs)")
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("PARITY_TIMEOUT", 600)),
                    help="seconds allowed to one run")
    ap.add_argument("--show", type=int, default=20, help="differing tests listed per runner")
    opts = ap.parse_args()
    names = opts.suites or list(SUITES)
    for name in names:
        if name not in SUITES:
            ap.error(f"unknown suite {name!r}: choose from {', '.join(SUITES)}")
    runners = [r for r in RUNNERS if r == "pytest" or r in opts.runners.split(",")]
    pacer_args = shlex.split(os.environ.get("PARITY_PACER_ARGS", "-n 2"))
    if "pacer" in runners and not os.access(opts.pacer, os.X_OK):
        ap.error(f"no pacer binary at {opts.pacer}")

    results: list[tuple[Suite, list[Run]]] = []
    for name in names:
        suite = SUITES[name]
        home = opts.cache / name
        try:
            python, tree = setup(suite, home, opts.python)
        except (subprocess.CalledProcessError, OSError, ValueError) as e:
            log(f"{name}: setup failed: {e}")
            return 2
        out = home / "run"
        out.mkdir(exist_ok=True)
        runs = [run(r, suite, python, tree, out, opts.pacer.resolve(), pacer_args, opts.timeout)
                for r in runners]
        results.append((suite, runs))

    ok = True
    print()
    print(f"pacer args: {shlex.join(pacer_args)}")
    head = f"{'suite':<7} {'runner':<7} {'passed':>7} {'failed':>7} {'skipped':>8} {'xfailed':>8} {'errors':>7} {'wall s':>7} {'exit':>5} {'differ':>7}"
    print(head)
    print("-" * len(head))
    for suite, runs in results:
        base = runs[0]
        for r in runs:
            c = counts(r.outcomes)
            ndiff = "" if r is base else str(len(differences(base, r)))
            print(f"{suite.name:<7} {r.runner:<7} {c['passed']:>7} {c['failed']:>7} "
                  f"{c['skipped']:>8} {c['xfailed']:>8} {c['error']:>7} {r.seconds:>7.1f} {r.rc:>5} {ndiff:>7}")
    for suite, runs in results:
        base = runs[0]
        print()
        print(f"{suite.name}: expected under plain pytest: {suite.expected}")
        if not base.outcomes:
            print(f"  plain pytest wrote no JUnit file: see {base.log}")
            ok = False
        for r in runs[1:]:
            diffs = differences(base, r)
            if r.runner == "pacer" and (diffs or not r.outcomes):
                ok = False
            if not diffs:
                print(f"  {r.runner}: every test's outcome equals plain pytest's")
                continue
            print(f"  {r.runner}: {len(diffs)} tests differ from plain pytest (log: {r.log})")
            for tid, a, b, msg in diffs[: opts.show]:
                print(f"    {tid}: pytest {a}, {r.runner} {b}" + (f": {msg}" if msg else ""))
            if len(diffs) > opts.show:
                print(f"    ... and {len(diffs) - opts.show} more")
    print()
    print("parity: pacer equals plain pytest" if ok else "parity: pacer DIFFERS from plain pytest")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

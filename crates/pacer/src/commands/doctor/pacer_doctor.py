"""pacer doctor's timing plugin, loaded only by `pacer doctor` (`-p pacer_doctor`).

It times each collector (a test module's time includes importing it), each
fixture's setup, and each test's phases, notes the modules each collector
imported first and each test's markers, and writes one JSON document to
$PACER_DOCTOR_OUT when the session ends. Normal runs never load it.

For the tests that wait (issue 21) it also measures each test's wall and CPU
seconds (the process's and its waited-for children's) and the time its
thread was queued for a core (Linux: a busy machine's, not the test's
wait), and samples the main
thread's stack every 10 ms from a background thread while a test runs
(`sys._current_frames()`): each sample's innermost frames say what the test
waits on where Python can tell: `sleep`, `socket` (socket, ssl, select,
selectors, http.client), `subprocess` (wait, communicate), `lock`
(threading's locks, conditions, events, queues). A blocking C call has no
frame of its own, so when the innermost frame is the caller's, its current
source line is read (`time.sleep(`, `.recv(`...). A sample that says none
of these is not counted.
"""

import json
import linecache
import os
import sys
import threading
import time

import pytest

try:
    import resource
except ImportError:
    resource = None

SAMPLE_EVERY = 0.01

# Innermost frames' modules (file name) and what waiting in them means.
_WAIT_MODULES = (
    ("subprocess.py", "subprocess"),
    ("selectors.py", "socket"),
    ("socket.py", "socket"),
    ("ssl.py", "socket"),
    ("socketserver.py", "socket"),
    ("client.py", "socket"),  # http.client
    ("connection.py", "socket"),  # urllib3
    ("threading.py", "lock"),
    ("queue.py", "lock"),
)
# A source line's calls, when the blocking call is C (no frame of its own).
_WAIT_CALLS = (
    ("sleep(", "sleep"),
    (".communicate(", "subprocess"),
    (".wait(", "lock"),
    ("subprocess.", "subprocess"),
    (".recv", "socket"),
    (".accept(", "socket"),
    (".connect(", "socket"),
    (".sendall(", "socket"),
    ("select(", "socket"),
    ("urlopen(", "socket"),
    (".acquire(", "lock"),
    (".join(", "lock"),
)
# A wait found deeper than this many frames from the innermost is not it.
_DEPTH = 6


def _cpu_seconds():
    if resource is None:
        return time.process_time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _queued_seconds():
    """Seconds the main thread waited for a core (Linux), not a test's wait."""
    try:
        with open("/proc/self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def classify(frame):
    """What the innermost frames of `frame` wait on, or None."""
    depth = 0
    while frame is not None and depth < _DEPTH:
        name = os.path.basename(frame.f_code.co_filename)
        for module, kind in _WAIT_MODULES:
            if name == module:
                if kind == "lock" and frame.f_code.co_name == "sleep":
                    return "sleep"
                return kind
        if depth == 0:
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
            for call, kind in _WAIT_CALLS:
                if call in line:
                    return kind
        frame = frame.f_back
        depth += 1
    return None


class _Sampler:
    """Samples the main thread's stack while a test runs."""

    def __init__(self):
        self.main = threading.main_thread().ident
        self.current = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="pacer-doctor-sampler", daemon=True)

    def loop(self):
        while not self.stop.wait(SAMPLE_EVERY):
            test = self.current
            if test is None:
                continue
            frame = sys._current_frames().get(self.main)
            kind = classify(frame) if frame is not None else None
            test["samples"] = test.get("samples", 0) + 1
            if kind is not None:
                waits = test.setdefault("waits", {})
                waits[kind] = waits.get(kind, 0) + 1


_sampler = _Sampler()

_started = time.perf_counter()
_collection = {"seconds": None}
_collectors = {}
_fixtures = {}
_tests = {}
_markers = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    start = time.perf_counter()
    yield
    _collection["seconds"] = time.perf_counter() - start


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    if isinstance(collector, pytest.Session):
        yield
        return
    before = set(sys.modules)
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    imported = sorted(set(sys.modules) - before)
    entry = _collectors.setdefault(
        collector.nodeid or ".",
        {"kind": type(collector).__name__, "seconds": 0.0, "imported": []},
    )
    entry["seconds"] += seconds
    entry["imported"] = sorted(set(entry["imported"]) | set(imported))


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    func = getattr(fixturedef, "func", None)
    code = getattr(func, "__code__", None)
    where = "%s:%s" % (code.co_filename, code.co_firstlineno) if code else ""
    key = (fixturedef.argname, fixturedef.baseid, fixturedef.scope)
    entry = _fixtures.setdefault(
        key,
        {
            "name": fixturedef.argname,
            "scope": fixturedef.scope,
            "baseid": fixturedef.baseid,
            "where": where,
            "setups": 0,
            "seconds": 0.0,
            "longest": 0.0,
        },
    )
    entry["setups"] += 1
    entry["seconds"] += seconds
    entry["longest"] = max(entry["longest"], seconds)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    for item in items:
        _markers[item.nodeid] = sorted({m.name for m in item.iter_markers()})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    test = _tests.setdefault(item.nodeid, {"phases": {}, "outcome": "passed"})
    if not _sampler.thread.is_alive() and not _sampler.stop.is_set():
        _sampler.thread.start()
    wall, cpu, queued = time.perf_counter(), _cpu_seconds(), _queued_seconds()
    _sampler.current = test
    try:
        yield
    finally:
        _sampler.current = None
        test["wall"] = test.get("wall", 0.0) + time.perf_counter() - wall
        test["cpu"] = test.get("cpu", 0.0) + _cpu_seconds() - cpu
        test["queued"] = test.get("queued", 0.0) + _queued_seconds() - queued


def pytest_runtest_logreport(report):
    test = _tests.setdefault(report.nodeid, {"phases": {}, "outcome": "passed"})
    test["phases"][report.when] = test["phases"].get(report.when, 0.0) + report.duration
    if report.outcome != "passed" and test["outcome"] == "passed":
        test["outcome"] = report.outcome


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    _sampler.stop.set()
    path = os.environ.get("PACER_DOCTOR_OUT")
    if not path:
        return
    doc = {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "pytest": pytest.__version__,
        "session": time.perf_counter() - _started,
        "collection": _collection["seconds"],
        "collectors": [dict(id=k, **v) for k, v in _collectors.items()],
        "fixtures": list(_fixtures.values()),
        "tests": [
            dict(id=k, markers=_markers.get(k, []), **v) for k, v in _tests.items()
        ],
        "exitstatus": int(exitstatus),
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(doc, out)

"""pacer doctor's timing plugin, loaded only by `pacer doctor` (`-p pacer_doctor`).

It times each collector (a test module's time includes importing it), each
fixture's setup, and each test's phases, notes the modules each collector
imported first and each test's markers, and writes one JSON document to
$PACER_DOCTOR_OUT when the session ends. Normal runs never load it.
"""

import json
import os
import sys
import time

import pytest

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


def pytest_runtest_logreport(report):
    test = _tests.setdefault(report.nodeid, {"phases": {}, "outcome": "passed"})
    test["phases"][report.when] = test["phases"].get(report.when, 0.0) + report.duration
    if report.outcome != "passed" and test["outcome"] == "passed":
        test["outcome"] = report.outcome


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
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

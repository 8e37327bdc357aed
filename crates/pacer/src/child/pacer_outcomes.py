"""pacer's outcome plugin for plain pytest, loaded only when pacer runs
plain pytest to compare with it (`pacer try`, `-p pacer_outcomes`).

As each test ends it appends one JSON line to $PACER_OUTCOMES_OUT:
``{"id": nodeid, "outcome": word, "message": text or null}``. The word is
what pacer's JSON report says of a test: pytest's status category
(`pytest_report_teststatus`) of the first phase that is not a pass
(`failed`, `error`, `skipped`, `xfailed`, `xpassed`), else `passed`; an
attempt pytest-rerunfailures retries (`rerun`) starts the test afresh, so
a later line for the same id replaces an earlier one. A file that fails to
collect (or skips itself) is one line with its node id. Lines are written
as tests end, so a crash leaves what ran before it.

Standard library and pytest only: the project's venv needs nothing else.
"""

import json
import os

import pytest

_state = {"config": None, "out": None}
_tests = {}
# Characters of a failure kept; the reader shows its first lines.
MESSAGE_LIMIT = 4000


def pytest_configure(config):
    _state["config"] = config
    path = os.environ.get("PACER_OUTCOMES_OUT")
    if path:
        _state["out"] = open(path, "a", encoding="utf-8")


def pytest_unconfigure(config):
    out = _state["out"]
    if out is not None and _state["config"] is config:
        out.close()
        _state["out"] = None


def _write(entry):
    out = _state["out"]
    if out is not None:
        out.write(json.dumps(entry) + "\n")
        out.flush()


def _message(report):
    """The failure's message as pacer's report has it (the exception and its
    text, pytest's `reprcrash`), else its text; cut to MESSAGE_LIMIT."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = crash.message if crash is not None else (report.longreprtext or "").strip()
    return text[:MESSAGE_LIMIT] or None


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    config = _state["config"]
    if config is None:
        return
    status = config.hook.pytest_report_teststatus(report=report, config=config)
    category = status[0] if status else ""
    entry = _tests.setdefault(report.nodeid, {"statuses": [], "message": None})
    if category == "rerun":
        entry["statuses"], entry["message"] = [], None
        return
    if category:
        entry["statuses"].append(category)
    if report.failed and entry["message"] is None:
        entry["message"] = _message(report)


def pytest_runtest_logfinish(nodeid, location):
    entry = _tests.get(nodeid)
    if entry is None:
        return
    outcome = next((s for s in entry["statuses"] if s != "passed"), "passed")
    _write({"id": nodeid, "outcome": outcome, "message": entry["message"]})


def pytest_collectreport(report):
    if report.passed:
        return
    outcome = "error" if report.failed else "skipped"
    _write({"id": report.nodeid, "outcome": outcome,
            "message": _message(report) if report.failed else report.longreprtext})

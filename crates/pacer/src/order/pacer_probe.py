"""pacer's probe plugin (`pacer bisect`, `replay`, `audit`), loaded with
`-p pacer_probe`: it writes one JSON line per test phase to
$PACER_PROBE_OUT, in the order pytest ran them, so that pacer knows each
test's outcome and the order pytest really ran them in. It changes nothing
in the session. Standard library and pytest only."""

import json
import os

_out = None


def pytest_configure(config):
    global _out
    path = os.environ.get("PACER_PROBE_OUT")
    if path:
        _out = open(path, "a", encoding="utf-8")


def pytest_runtest_logreport(report):
    if _out is None:
        return
    _out.write(json.dumps({"id": report.nodeid, "when": report.when, "outcome": report.outcome}) + "\n")
    _out.flush()


def pytest_unconfigure(config):
    global _out
    if _out is not None:
        _out.close()
        _out = None

"""Reruns of failing tests, with pytest-rerunfailures' names and meaning.

When pytest-rerunfailures is installed it does the reruns, exactly as under
pytest (its `--reruns`, its `flaky` marker, its `RERUN` reports); pacer only
hands it pacer's own setting (`reruns` in the config, per category, or
`PACER_RERUNS`) when the command line gave none. Without it, this module
does them natively, the way pytest-rerunfailures does: the test's protocol
runs again in the same worker, its function-scoped fixtures torn down and
set up again, the fixtures of higher scopes kept. Only a failed setup or
call is rerun (pytest-rerunfailures also reruns a failed teardown), and an
attempt that will be retried is reported with the outcome `rerun`.

Either way `flaky` marks the final, passing call of a test that failed
before (`mark_flaky`), so that pacer's reporters show it as FLAKY.
"""

import importlib.util
import os
import re
import time

import pytest

# What pacer's setting arrives as, per category (the category's environment
# is applied before each of its tests).
RERUNS_ENV = "PACER_RERUNS"
DELAY_ENV = "PACER_RERUNS_DELAY"


def plugin_installed():
    return importlib.util.find_spec("pytest_rerunfailures") is not None


def addoption(parser):
    """pytest-rerunfailures' main options and ini names, when it is not
    installed, so that `--reruns 2` means what it means with it."""
    group = parser.getgroup("rerunfailures", "re-run failing tests (pacer's, as pytest-rerunfailures)")
    group.addoption("--reruns", action="store", dest="reruns", type=int,
                    help="number of times to re-run failed tests (pacer's worker plugin).")
    group.addoption("--reruns-delay", action="store", dest="reruns_delay", type=float,
                    help="seconds to wait between reruns.")
    group.addoption("--only-rerun", action="append", dest="only_rerun", type=str, default=None,
                    help="rerun only failures matching this regular expression (repeatable).")
    group.addoption("--rerun-except", action="append", dest="rerun_except", type=str, default=None,
                    help="never rerun failures matching this regular expression (repeatable).")
    parser.addini("reruns", "number of times to re-run failed tests", type="string")
    parser.addini("reruns_delay", "seconds to wait between reruns", type="string")
    parser.addini("only_rerun", "rerun only failures matching these", type="linelist")
    parser.addini("rerun_except", "never rerun failures matching these", type="linelist")


def configure(config):
    """From `pytest_configure`: hand pacer's setting to pytest-rerunfailures,
    or do the reruns here."""
    if config.pluginmanager.hasplugin("rerunfailures"):
        config.pluginmanager.register(Delegated(config), "pacer-reruns")
        return
    config.addinivalue_line(
        "markers",
        "flaky(reruns=1, reruns_delay=0): rerun a failing test up to `reruns` times (pacer)",
    )
    for name in ("only_rerun", "rerun_except"):
        for pattern in _option(config, name) or _ini(config, name, []):
            try:
                re.compile(pattern)
            except re.error as error:
                raise pytest.UsageError(
                    "invalid regular expression for %s: %r (%s)" % (name, pattern, error)
                )
    config.pluginmanager.register(Native(config), "pacer-reruns")


def _option(config, name):
    return getattr(config.option, name, None)


def _ini(config, name, default=None):
    try:
        return config.getini(name)
    except (ValueError, KeyError):
        return default


def _env_number(name, kind):
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return None


class Delegated:
    """pytest-rerunfailures reruns; pacer's setting stands in for a
    `--reruns` the command line did not give."""

    def __init__(self, config):
        self.config = config
        self.given = _option(config, "reruns")
        self.given_delay = _option(config, "reruns_delay")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        option = self.config.option
        if self.given is None:
            reruns = _env_number(RERUNS_ENV, int)
            option.reruns = reruns if reruns else None
        if self.given_delay is None:
            # pacer's 0 is "not set": the ini's `reruns_delay` then applies.
            option.reruns_delay = _env_number(DELAY_ENV, float) or None
        return None


class Native:
    """The reruns themselves, when pytest-rerunfailures is not installed."""

    def __init__(self, config):
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        reruns = self.reruns(item)
        if not reruns:
            return None
        if self.config.getoption("usepdb", False):
            raise pytest.UsageError("--reruns incompatible with --pdb")
        delay = self.delay(item)
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                # Each attempt's report holds its own captured output only
                # (pytest-rerunfailures' reports hold every attempt's so far).
                item._report_sections = []
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            reports, again = run_attempt(item, nextitem, attempt <= reruns, self.patterns(item))
            for report in reports:
                if again and report.failed:
                    report.outcome = "rerun"
                item.ihook.pytest_runtest_logreport(report=report)
            if again:
                if delay > 0:
                    time.sleep(delay)
                _forget_failed_fixtures(item)
                _discard_instance(item)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            if not again:
                return True

    def pytest_report_teststatus(self, report):
        # pytest-rerunfailures' words for a retried attempt.
        if report.outcome == "rerun":
            return "rerun", "R", ("RERUN", {"yellow": True})
        return None

    def pytest_report_header(self, config):
        given = _option(config, "reruns") or _env_number(RERUNS_ENV, int)
        if given:
            return "reruns: %d, by pacer's worker plugin (pytest-rerunfailures is not installed)" % given
        return None

    def reruns(self, item):
        """pytest-rerunfailures' `get_reruns_count`: the marker first, then
        `--reruns`, then pacer's setting, then the ini value."""
        marker = item.get_closest_marker("flaky")
        if marker is not None:
            if "reruns" in marker.kwargs:
                return marker.kwargs["reruns"]
            if marker.args:
                return marker.args[0]
            return 1
        given = _option(self.config, "reruns")
        if given is not None:
            return given
        from_env = _env_number(RERUNS_ENV, int)
        if from_env:
            return from_env
        try:
            return int(_ini(self.config, "reruns", "") or 0)
        except ValueError:
            return 0

    def delay(self, item):
        marker = item.get_closest_marker("flaky")
        if marker is not None:
            if "reruns_delay" in marker.kwargs:
                delay = marker.kwargs["reruns_delay"]
            elif len(marker.args) > 1:
                delay = marker.args[1]
            else:
                delay = 0
        else:
            delay = _option(self.config, "reruns_delay")
            if delay is None:
                delay = _env_number(DELAY_ENV, float) or None
            if delay is None:
                try:
                    delay = float(_ini(self.config, "reruns_delay", "") or 0)
                except ValueError:
                    delay = 0
        return max(float(delay), 0.0)

    def patterns(self, item):
        marker = item.get_closest_marker("flaky")
        found = {}
        for name in ("only_rerun", "rerun_except"):
            if marker is not None and name in marker.kwargs:
                value = marker.kwargs[name]
                found[name] = [value] if isinstance(value, (str, type)) else list(value)
            else:
                found[name] = _option(self.config, name) or _ini(self.config, name, []) or []
        return found


def run_attempt(item, nextitem, may_rerun, patterns):
    """One attempt of pytest's `runtestprotocol`, deciding before the
    teardown whether the test runs again: then only the item's own
    (function-scoped) fixtures are torn down. Returns the reports (not yet
    logged) and whether the test runs again."""
    from _pytest.runner import show_test_item

    config = item.config
    hasrequest = hasattr(item, "_request")
    if hasrequest and not item._request:
        item._initrequest()
    done = []
    try:
        setup = _phase(item, "setup")
        done.append(setup)
        if setup[0].passed:
            setup_only = config.getoption("setuponly", False)
            if config.getoption("setupshow", False):
                show_test_item(item, add_space=not setup_only)
            if not setup_only:
                done.append(_phase(item, "call"))
        stopping = item.session.shouldfail or item.session.shouldstop
        again = may_rerun and not stopping and _rerunnable(done, patterns)
        if stopping:
            nextitem = None
        if again:
            with _only_the_item(item):
                done.append(_phase(item, "teardown", nextitem=nextitem))
        else:
            done.append(_phase(item, "teardown", nextitem=nextitem))
    finally:
        if hasrequest:
            item._request = False
            item.funcargs = None
    return [report for report, _ in done], again


def _phase(item, when, **kwds):
    """pytest's `call_and_report` without the logging, keeping the call
    (its exception decides `--only-rerun`)."""
    from _pytest.runner import CallInfo, check_interactive_exception

    ihook = item.ihook
    hook = {
        "setup": ihook.pytest_runtest_setup,
        "call": ihook.pytest_runtest_call,
        "teardown": ihook.pytest_runtest_teardown,
    }[when]
    try:
        from _pytest.runner import get_reraise_exceptions

        reraise = get_reraise_exceptions(item.config)
    except ImportError:
        from _pytest.outcomes import Exit

        reraise = (Exit,) if item.config.getoption("usepdb", False) else (Exit, KeyboardInterrupt)
    call = CallInfo.from_call(lambda: hook(item=item, **kwds), when=when, reraise=reraise)
    report = ihook.pytest_runtest_makereport(item=item, call=call)
    if check_interactive_exception(call, report):
        ihook.pytest_exception_interact(node=item, call=call, report=report)
    return report, call


def _rerunnable(done, patterns):
    failed = [(r, c) for r, c in done if r.failed and r.when in ("setup", "call")]
    if not failed or any(hasattr(r, "wasxfail") for r, _ in done):
        return False
    only, never = patterns["only_rerun"], patterns["rerun_except"]
    for _report, call in failed:
        if only and not _matches(only, call.excinfo, follow_context=True):
            return False
        if never and _matches(never, call.excinfo, follow_context=False):
            return False
    return True


def _matches(patterns, excinfo, follow_context):
    """pytest-rerunfailures' `_try_match_error`: `Type: message` of each
    exception in the chain against each pattern (or exception class)."""
    if excinfo is None:
        return False
    exc, seen = excinfo.value, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = "%s: %s" % (type(exc).__name__, exc)
        for pattern in patterns:
            if isinstance(pattern, type) and issubclass(pattern, BaseException):
                if isinstance(exc, pattern):
                    return True
            elif re.search(pattern, text):
                return True
        if exc.__cause__ is not None:
            exc = exc.__cause__
        elif follow_context and not getattr(exc, "__suppress_context__", False):
            exc = exc.__context__
        else:
            exc = None
    return False


class _only_the_item:
    """Hides the item's parents from pytest's setup stack during its
    teardown, so that module, class and session fixtures outlive an attempt
    that will be retried (what pytest-rerunfailures' teardown hook does)."""

    def __init__(self, item):
        self.stack = item.session._setupstate.stack
        self.item = item
        self.held = {}

    def __enter__(self):
        for node in list(self.stack):
            if node is not self.item:
                self.held[node] = self.stack.pop(node)

    def __exit__(self, *exc):
        rest = dict(self.stack)
        self.stack.clear()
        self.stack.update(self.held)
        self.stack.update(rest)
        return False


def _forget_failed_fixtures(item):
    """A fixture that raised caches its error; the next attempt must run it
    again (as pytest-rerunfailures does)."""
    info = getattr(item, "_fixtureinfo", None)
    for defs in getattr(info, "name2fixturedefs", {}).values():
        for fixturedef in defs:
            cached = getattr(fixturedef, "cached_result", None)
            if cached is not None and cached[2]:
                fixturedef.cached_result = None
                finalizers = getattr(fixturedef, "_finalizers", None)
                if finalizers is not None:
                    finalizers.clear()


def _discard_instance(item):
    """A fresh instance of the test's class for the next attempt."""
    if getattr(item, "_instance", None) is None:
        return
    del item._instance
    item._obj = None


def mark_flaky(entries):
    """Marks the final call of a test that passed after failed attempts:
    its status is `flaky` (word FLAKY), its outcome stays `passed`."""
    last_rerun = None
    for i, entry in enumerate(entries):
        if entry.get("outcome") == "rerun":
            last_rerun = i
    if last_rerun is None:
        return
    final = entries[last_rerun + 1:]
    if any(e.get("outcome") == "failed" for e in final):
        return
    for entry in final:
        if entry.get("when") == "call" and entry.get("cat") == "passed":
            entry["cat"] = "flaky"
            entry["word"] = "FLAKY"

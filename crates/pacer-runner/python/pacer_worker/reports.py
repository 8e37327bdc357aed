"""Each test phase's report, as the entry pacer's reporters read (`PhaseReport`).

pacer prints pytest's terminal output and writes the JUnit file itself, so a
worker sends what those need, already rendered by pytest's own code: the
failure text, the short-summary words, skip locations, warnings.
"""

import os

# Captured output kept per section of a test: this much of its head and of
# its tail; the middle is replaced by a line that says what was left out,
# so that a test printing 50 MB costs pacer a few MiB, not 50.
OUTPUT_HEAD = 1 << 20
OUTPUT_TAIL = 1 << 20


class PhaseEntries:
    """What a phase's entry carries, decided once from pytest's options."""

    def __init__(self, config, junit):
        self.config = config
        self.durations_wanted = config.getoption("durations", None) is not None
        self.tbstyle = config.getoption("tbstyle", "auto")
        try:
            from _pytest.terminal import getreportopt

            self.reportchars = getreportopt(config)
        except Exception:
            self.reportchars = ""
        # JUnit's xunit1 family names each test's file and line.
        junit = junit or {}
        self.junit_locations = bool(junit.get("xmlpath")) and junit.get("family") == "xunit1"

    def entry(self, report, live):
        """The entry for one phase's `report` (`live`: its live-log text),
        or None for a passing setup or teardown nobody asked to see."""
        when = report.when
        if report.passed and when != "call" and not hasattr(report, "wasxfail"):
            # pytest prints a passing teardown's own captured output after
            # its test's failure or pass section; rare, so looked for here.
            teardown = [[title, bounded(content)] for title, content in report.sections
                        if when == "teardown" and "teardown" in title]
            if not (self.durations_wanted or live or teardown):
                return None
            # A phase that does not count: --durations, live logs, or
            # teardown output need it anyway.
            entry = {"when": when, "outcome": "passed", "cat": "", "word": "",
                     "dur": report.duration}
            if live:
                entry["live_log"] = bounded(live)
            if teardown:
                entry["sections"] = teardown
            return entry
        config = self.config
        status = config.hook.pytest_report_teststatus(report=report, config=config)
        category, _letter, word = status if status else ("", "", "")
        if isinstance(word, tuple):
            word = word[0]
        entry = {"when": when, "outcome": report.outcome, "cat": category, "word": word,
                 "dur": report.duration}
        # A failed attempt pytest-rerunfailures (or pacer) retries is a
        # `rerun`: its failure is kept for the reports' flaky records.
        if report.failed or report.outcome == "rerun":
            entry["longrepr"] = bounded(longrepr_text(report, config))
            entry["sections"] = section_text(report)
            entry["head"] = report.head_line
            entry["msg"] = crash_message(report)
            entry["at"] = failure_location(report, config)
            if self.tbstyle == "line":
                entry["crash"] = crash_line(report)
        elif report.skipped:
            entry["skip"] = skip_location(report, config)
        elif report.sections and self.passes_wanted(category):
            # The PASSES / XPASSES sections of -rP / -rX show a passing
            # test's captured output; nothing is sent when they are off.
            entry["sections"] = section_text(report)
            entry["head"] = report.head_line
        if hasattr(report, "wasxfail"):
            entry["xfail"] = report.wasxfail
        if live:
            entry["live_log"] = bounded(live)
        if self.junit_locations:
            entry["loc"] = [report.location[0], report.location[1]]
        return entry

    def passes_wanted(self, category):
        if self.tbstyle == "no":
            return False
        return ("P" in self.reportchars and category == "passed") or (
            "X" in self.reportchars and category == "xpassed"
        )


def collect_problem(report, config):
    """A collector's report that did not pass (an error or a skip), for `collected`."""
    return {
        "id": report.nodeid,
        "outcome": report.outcome,
        "longrepr": longrepr_text(report, config) if report.failed else report.longreprtext,
        "skip": skip_location(report, config) if report.skipped else None,
    }


def section_text(report):
    return [[title, bounded(content)] for title, content in report.sections]


def bounded(text, head=OUTPUT_HEAD, tail=OUTPUT_TAIL):
    """`text` if it is short; else its head and tail around one line saying
    how much of the middle was left out."""
    if not isinstance(text, str) or len(text) <= head + tail:
        return text
    start, end = text[:head], text[len(text) - tail:]
    middle = text[head:len(text) - tail]
    left = len(middle.encode("utf-8", "replace"))
    lines = middle.count("\n")
    note = "\n[... pacer left out %d bytes (%d lines) of this output: it keeps the first and last %d KiB ...]\n" % (
        left, lines, head // 1024)
    return start + note + end


def longrepr_text(report, config):
    """The failure as pytest's terminal prints it: `longreprtext` without its
    `strip()`, which would take the blank line and indentation that open
    the first traceback entry; coloured and highlighted as pytest would
    (`--color=yes`, `PY_COLORS`), never merely because pacer is on a tty."""
    from io import StringIO

    out = StringIO()
    try:
        from _pytest.config import create_terminal_writer

        writer = create_terminal_writer(config, out)
    except Exception:
        from _pytest._io import TerminalWriter

        writer = TerminalWriter(out)
        writer.hasmarkup = False
    try:
        report.toterminal(writer)
    except Exception:
        return report.longreprtext
    return out.getvalue()


def crash_line(report):
    """`--tb=line`'s one line, as TerminalReporter._getcrashline makes it."""
    try:
        return str(report.longrepr.reprcrash)
    except AttributeError:
        return str(report.longrepr)[:50]


def failure_location(report, config):
    """Where a failure happened, for GitHub's annotations: the innermost
    traceback entry in the project's own files (under the rootdir, outside
    site-packages), else the test's own line. A path relative to the
    rootdir and a 1-based line."""
    root = str(config.rootpath)
    here = str(config.invocation_params.dir)
    longrepr = report.longrepr
    candidates = []
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        candidates.append((crash.path, crash.lineno))
    traceback = getattr(longrepr, "reprtraceback", None)
    for entry in reversed(getattr(traceback, "reprentries", None) or []):
        fileloc = getattr(entry, "reprfileloc", None)
        if fileloc is not None:
            candidates.append((fileloc.path, fileloc.lineno))
    for path, line in candidates:
        try:
            full = os.path.normpath(os.path.join(here, str(path)))
            relative = os.path.relpath(full, root)
        except (TypeError, ValueError):
            continue
        if relative.startswith("..") or "site-packages" in full.split(os.sep):
            continue
        if os.path.isfile(full):
            return [relative.replace(os.sep, "/"), line]
    path, line = report.location[0], report.location[1]
    return [path, None if line is None else line + 1]


def crash_message(report):
    try:
        crash = report.longrepr.reprcrash
        if crash is not None:
            return crash.message
    except AttributeError:
        pass
    # A plain-text longrepr ("[XPASS(strict)] ...") is its own message;
    # other reprs without a crash line (a missing fixture) have none.
    if isinstance(report.longrepr, str) and report.longrepr.strip():
        return report.longrepr.strip().splitlines()[0]
    return None


def skip_location(report, config):
    """Where a skip happened, as pytest's short summary shows it: the path
    relative to the invocation folder, and no line for a skip marker (so
    that the tests of a skipped class fold into one line)."""
    longrepr = report.longrepr
    if not (isinstance(longrepr, tuple) and len(longrepr) == 3):
        return None
    path, lineno, reason = longrepr
    try:
        path = os.path.relpath(str(path), str(config.invocation_params.dir))
    except ValueError:
        path = str(path)
    keywords = getattr(report, "keywords", {})
    if report.when == "setup" and "skip" in keywords and "pytestmark" not in keywords:
        lineno = None
    return [path, lineno, str(reason)]


def warning_location(config, warning_message):
    """As pytest's WarningReport.get_location, for a warning outside a test:
    the warning's own file and line, relative to the invocation folder."""
    try:
        from _pytest.pathlib import absolutepath, bestrelpath

        path = bestrelpath(config.invocation_params.dir, absolutepath(warning_message.filename))
    except Exception:
        path = warning_message.filename
    return "%s:%s" % (path, warning_message.lineno)


def warning_text(warning_message):
    """The warning as pytest's summary prints it (with its source line)."""
    try:
        from _pytest.warnings import warning_record_to_str

        return warning_record_to_str(warning_message)
    except Exception:
        return "%s:%s: %s: %s" % (
            warning_message.filename,
            warning_message.lineno,
            warning_message.category.__name__,
            warning_message.message,
        )

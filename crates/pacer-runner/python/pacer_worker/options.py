"""What pytest parsed, as pacer's controller needs it (sent in ``hello``).

pytest's own parser, with the project's plugins, addopts and ini loaded,
decides what the command line means; pacer never parses pytest's flags
itself. What pacer then does for the whole run, no worker may do for its
share: `neutralise` clears those options in the worker.
"""

import os

# (option dest, value in a worker): stop at maxfail, apply --lf/--ff, write
# the JUnit file, start workers (xdist's).
NEUTRALISED = (
    ("dist", "no"),
    ("tx", []),
    ("numprocesses", None),
    ("maxprocesses", None),
    ("maxfail", 0),
    ("lf", False),
    ("failedfirst", False),
    ("xmlpath", None),
)


def neutralise(config):
    for name, value in NEUTRALISED:
        if hasattr(config.option, name):
            setattr(config.option, name, value)


def _reportchars(config, default):
    try:
        from _pytest.terminal import getreportopt

        return getreportopt(config)
    except Exception:
        return default


def pytest_options(config):
    """pytest's parsed options that pacer's controller acts on for the whole
    run (`PytestOptions` on pacer's side). Read before `neutralise`."""
    option = config.option

    def get(name, default=None):
        return getattr(option, name, default)

    reportchars = _reportchars(config, "fE")
    # Read from the ini, as the cache provider will: ours configures first.
    cachedir = None
    if not config.pluginmanager.is_blocked("cacheprovider"):
        try:
            from _pytest.cacheprovider import resolve_from_str

            cachedir = resolve_from_str(config.getini("cache_dir"), config.rootpath)
        except Exception:
            cachedir = None
    numprocesses = get("numprocesses")
    dist = get("dist")
    if dist in (None, "no") and get("distload"):
        dist = "load"
    xmlpath = get("xmlpath")
    return {
        "verbose": int(get("verbose", 0) or 0),
        "reportchars": reportchars,
        "tbstyle": str(get("tbstyle", "auto") or "auto"),
        "maxfail": int(get("maxfail", 0) or 0),
        "capture": str(get("capture", "fd") or "fd"),
        "collectonly": bool(get("collectonly", False)),
        "lf": bool(get("lf", False)),
        "ff": bool(get("failedfirst", False)),
        "lfnf": str(get("last_failed_no_failures", "all") or "all"),
        "cache_dir": str(cachedir) if cachedir is not None else None,
        "durations": get("durations"),
        "durations_min": get("durations_min"),
        "continue_on_collection_errors": bool(get("continue_on_collection_errors", False)),
        "numprocesses": None if numprocesses is None else str(numprocesses),
        "maxprocesses": get("maxprocesses"),
        "dist": dist,
        "xmlpath": os.path.abspath(os.path.expanduser(xmlpath)) if xmlpath else None,
        "pdb": bool(get("usepdb", False)) or bool(get("trace", False)),
        "file_or_dir": [str(a) for a in (get("file_or_dir") or [])],
        # pytest-xdist's gateways (`--tx`), which pacer does not use: it
        # says so instead of ignoring them. xdist itself turns `-n N` into N
        # `popen` gateways (in its `pytest_cmdline_main`, before this): those
        # nobody asked for, and pacer's workers are what `-n` wants.
        "remote": bool(
            (get("tx") and not (numprocesses and all(str(s) == "popen" for s in get("tx"))))
            or get("rsyncdir")
            or get("px")
        ),
        "looponfail": bool(get("looponfail", False)),
    }


def junit_options(config):
    """pytest's JUnit settings, wherever they came from (the command line,
    `addopts`, `PYTEST_ADDOPTS`, the ini file), for pacer, which writes the
    one report of the run. Read before `neutralise` clears `xmlpath`.

    The worker never writes the file: pytest's junitxml plugin skips xdist
    workers (`config.workerinput`), and pacer writes the one report.
    """
    xmlpath = getattr(config.option, "xmlpath", None)
    if xmlpath:
        xmlpath = os.path.normpath(os.path.abspath(os.path.expanduser(os.path.expandvars(xmlpath))))
    family = "xunit2"
    suite_name = "pytest"
    try:
        family = config.getini("junit_family") or family
        suite_name = config.getini("junit_suite_name") or suite_name
    except ValueError:  # pragma: no cover - junitxml disabled with -p no:junitxml
        pass
    if family == "legacy":
        family = "xunit1"
    return {
        "xmlpath": xmlpath or None,
        "prefix": getattr(config.option, "junitprefix", None),
        "family": family,
        "suite_name": suite_name,
    }


def terminal_options(config):
    """pytest's parsed options that shape its terminal output, read before
    `log_cli` raises the verbosity (pytest prints its header before that)."""
    option = config.option
    return {
        "verbose": int(getattr(option, "verbose", 0) or 0),
        "reportchars": _reportchars(config, None),
        "tbstyle": getattr(option, "tbstyle", "auto"),
        "showcapture": getattr(option, "showcapture", "all"),
        "no_header": bool(getattr(option, "no_header", False)),
        "no_summary": bool(getattr(option, "no_summary", False)),
        "color": getattr(option, "color", "auto"),
    }


def header_lines(config):
    """pytest's header lines after the platform line, in the order it prints
    them. The rootdir, configfile, testpaths and plugins lines are the
    terminal reporter's own `pytest_report_header`: ask while it is still
    registered."""
    try:
        results = config.hook.pytest_report_header(
            config=config, start_path=config.invocation_params.dir
        )
    except Exception:
        return []
    lines = []
    # As TerminalReporter._write_report_lines_from_hooks: the last
    # registered plugin's lines come first.
    for line_or_lines in reversed(results):
        if isinstance(line_or_lines, str):
            lines.append(line_or_lines)
        else:
            lines.extend(str(line) for line in line_or_lines)
    return lines


def plugin_names(config):
    """The installed plugins as pytest's header names them (`cov-7.0.0`)."""
    names = []
    for _plugin, dist in config.pluginmanager.list_plugin_distinfo():
        name = dist.project_name
        if name.startswith("pytest-"):
            name = name[7:]
        entry = "%s-%s" % (name, dist.version)
        if entry not in names:
            names.append(entry)
    return names

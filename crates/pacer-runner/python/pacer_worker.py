"""pacer's worker-side pytest plugin.

pacer (a Rust program) starts each worker as ``python -m pytest -p pacer_worker ...``
with one end of a socket pair on file descriptor ``PACER_FD``. The worker never
uses its stdin/stdout for the protocol, so ``-s`` and live output keep working.

Messages are JSON objects, one per line, tagged by ``"t"``; ``PROTOCOL`` is the
version both sides check in ``hello``. The worker:

* takes over ``pytest_collection`` (it collects only what it is told to),
* takes over ``pytest_runtestloop`` (it runs only what it is handed),
* announces each test (``start``) before running it, so a crash names the test,
* asks for more work (``need``) before starting the last test it holds, so it
  always knows the real ``nextitem`` and never tears down fixtures it needs.

Standard library plus pytest only: the user's venv needs nothing else.
"""

import json
import os
import socket
import sys
import time

import pytest

PROTOCOL = 1

# Directory collectors (pytest 8) are what discovery and per-file collection
# stand on; an older pytest falls back to a plain sequential run, saying why.
if int(pytest.__version__.split(".")[0]) < 8:
    raise RuntimeError("pacer needs pytest >= 8 in the workers (found %s)" % pytest.__version__)
# Ask for more work while this many tests are still queued, so that the answer
# is usually here before the queue runs dry.
LOW_WATER = 2

_state = {"discovering": False}


def _install_crash_capture():
    """Make pytest's fd capture write to named files instead of unlinked ones.

    When a test kills its worker (os._exit, a segfault, the OOM killer), the
    output it captured so far lives only in pytest's temporary files; naming
    them lets pacer read them after the crash.
    """
    if not os.environ.get("PACER_CAPTURE_DIR"):
        return
    try:
        import _pytest.capture as capture_mod
    except ImportError:  # pragma: no cover - very old pytest
        return
    original = capture_mod.TemporaryFile
    counter = [0]

    def named_temporary_file(*args, **kwargs):
        capture_dir = os.environ.get("PACER_CAPTURE_DIR")
        if not capture_dir:
            return original(*args, **kwargs)
        try:
            targetfd = sys._getframe(1).f_locals.get("targetfd")
        except Exception:
            targetfd = None
        counter[0] += 1
        name = "fd%s-%d" % (targetfd if targetfd is not None else "x", counter[0])
        try:
            os.makedirs(capture_dir, exist_ok=True)
            return open(os.path.join(capture_dir, name), "w+b", buffering=0)
        except OSError:
            return original(*args, **kwargs)

    capture_mod.TemporaryFile = named_temporary_file


_install_crash_capture()


class Channel:
    """Line-delimited JSON over the inherited socket.

    `hold` keeps a message back so that it leaves with the next one (a test's
    `done` with the next test's `start`): half the system calls per test.
    Anything that waits for pacer, or may be the last word, flushes first.
    """

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.reader = self.sock.makefile("rb")
        self.held = []

    def hold(self, msg):
        self.held.append(json.dumps(msg, separators=(",", ":"), default=str))

    def send(self, msg):
        self.held.append(json.dumps(msg, separators=(",", ":"), default=str))
        self.flush()

    def flush(self):
        if self.held:
            data = "\n".join(self.held) + "\n"
            self.held = []
            self.sock.sendall(data.encode("utf-8", "replace"))

    def recv(self):
        self.flush()
        line = self.reader.readline()
        if not line:
            raise EOFError("pacer closed the channel")
        return json.loads(line)


def _worker_env():
    return {
        "id": os.environ.get("PACER_WORKER_ID", "gw0"),
        "count": int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
        "uid": os.environ.get("PYTEST_XDIST_TESTRUNUID", ""),
    }


def _active(config):
    return getattr(config, "_pacer", None) is not None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    fd = os.environ.get("PACER_FD")
    if not fd:
        return
    env = _worker_env()
    # pytest-xdist, when installed, must see a worker, not a controller: its
    # worker_id/testrun_uid fixtures and plugins that ask `is_xdist_worker`
    # read config.workerinput, and an `-n` in addopts must not fork again.
    config.workerinput = {
        "workerid": env["id"],
        "workercount": env["count"],
        "testrunuid": env["uid"],
        "mainargv": list(sys.argv),
    }
    config.workerinput.update(_controller_input(config, env))
    _local_rerun_counts()
    config.workeroutput = {}
    _take_junitxml(config)
    config._pacer_options = _pytest_options(config)
    # What pacer does for the whole run, no worker may do for its share:
    # stop at maxfail, apply --lf/--ff, write the JUnit file, start workers.
    for name, value in (
        ("dist", "no"),
        ("tx", []),
        ("numprocesses", None),
        ("maxprocesses", None),
        ("maxfail", 0),
        ("lf", False),
        ("failedfirst", False),
        ("xmlpath", None),
    ):
        if hasattr(config.option, name):
            setattr(config.option, name, value)
    config._pacer = Worker(config, Channel(int(fd)), env)
    _keep_invocation_relative_ids(config)


def _xdist_installed():
    import importlib.util

    return importlib.util.find_spec("xdist") is not None


def pytest_addoption(parser):
    # pacer answers xdist's options itself; without xdist installed, pytest
    # would refuse an `-n auto --dist loadfile` in the project's addopts.
    if not os.environ.get("PACER_FD") or _xdist_installed():
        return
    group = parser.getgroup("xdist", "distributed and subprocess testing (read by pacer)")
    # `_addoption`, as xdist does: lowercase short options are pytest's own.
    group._addoption("-n", "--numprocesses", dest="numprocesses", metavar="numprocesses",
                    help="Number of workers (read by pacer).")
    group.addoption("--maxprocesses", dest="maxprocesses", metavar="maxprocesses", type=int,
                    help="Limit the workers to this number (read by pacer).")
    group.addoption("--dist", dest="dist", default="no", metavar="distmode",
                    choices=["each", "load", "loadscope", "loadfile", "loadgroup", "worksteal", "no"],
                    help="xdist's distribution mode (pacer maps it to its scheduling).")
    group._addoption("-d", action="store_true", dest="distload", default=False,
                    help="Load-balance tests (read by pacer).")


def _pytest_options(config):
    """pytest's parsed options that pacer's controller acts on for the whole
    run: pytest's own parser, with the project's plugins, addopts and ini,
    decided what the command line means."""
    option = config.option

    def get(name, default=None):
        return getattr(option, name, default)

    try:
        from _pytest.terminal import getreportopt

        reportchars = getreportopt(config)
    except Exception:
        reportchars = "fE"
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
    }


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    config = session.config
    if not _active(config):
        return
    # The header's lines come from `pytest_report_header`, whose rootdir,
    # configfile, testpaths and plugins lines are the terminal reporter's own
    # implementation: ask while it is still registered.
    _state["header_lines"] = _header_lines(config)
    _state["terminal"] = _terminal_options(config)
    # The controller draws the terminal; a worker's reporter would only cost time.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
    _LiveLog.install(config)


def _header_lines(config):
    """pytest's header lines after the platform line, in the order it prints them."""
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


def _terminal_options(config):
    """pytest's parsed options that shape its terminal output, read before
    `log_cli` raises the verbosity (pytest prints its header before that)."""
    option = config.option
    try:
        from _pytest.terminal import getreportopt

        reportchars = getreportopt(config)
    except Exception:
        reportchars = None
    return {
        "verbose": int(getattr(option, "verbose", 0) or 0),
        "reportchars": reportchars,
        "tbstyle": getattr(option, "tbstyle", "auto"),
        "showcapture": getattr(option, "showcapture", "all"),
        "no_header": bool(getattr(option, "no_header", False)),
        "no_summary": bool(getattr(option, "no_summary", False)),
        "color": getattr(option, "color", "auto"),
    }


class _LiveLog:
    """`log_cli`: the records pytest would print live, kept per test phase.

    pytest's live handler writes to the terminal reporter, which a worker
    does not show; its `emit` is replaced so that each record, formatted by
    the handler's own formatter (`log_cli_format`, `log_cli_level`), goes
    with its phase's report to pacer, which prints it as pytest would.
    """

    records = {}

    @classmethod
    def install(cls, config):
        plugin = config.pluginmanager.get_plugin("logging-plugin")
        handler = getattr(plugin, "log_cli_handler", None)
        if handler is None or not hasattr(handler, "set_when"):
            return
        try:
            from _pytest.logging import _LiveLoggingStreamHandler
        except ImportError:
            return
        if not isinstance(handler, _LiveLoggingStreamHandler):
            return
        _state["log_cli"] = True

        def emit(record):
            when = getattr(handler, "_when", None)
            if when not in ("setup", "call", "teardown"):
                return
            try:
                text = handler.format(record)
            except Exception:
                return
            cls.records.setdefault(when, []).append(text)

        handler.emit = emit

    @classmethod
    def take(cls, when):
        lines = cls.records.pop(when, None)
        return "\n".join(lines) if lines else None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # pytest-cov starts measuring here, and erases the data files of earlier
    # runs unless `--cov-append`. A pacer worker may start when another has
    # already saved its data (a replacement, an extra io worker), so workers
    # never erase: pacer combines exactly the files its workers name in their
    # `bye` and drops the old combined file itself (`cov_controller_main`).
    namespace = early_config.known_args_namespace
    if os.environ.get("PACER_FD") and getattr(namespace, "cov_source", None):
        _state["cov_append"] = bool(getattr(namespace, "cov_append", False))
        namespace.cov_append = True
    return (yield)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    if _active(session.config):
        session.config._pacer.bye()


@pytest.fixture(scope="session")
def worker_id(request):
    """The worker's id (gw0, gw1, ...), as pytest-xdist names it; "master" outside pacer."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


@pytest.fixture(scope="session")
def testrun_uid():
    """A string unique to this run, the same in every worker."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or "local"


@pytest.fixture(scope="session")
def test_prefix(worker_id, testrun_uid):
    """A short prefix unique to this run and worker, for naming shared resources."""
    import hashlib

    # A hash, not a slice: the uid starts with the clock's high bits, which
    # two runs minutes apart share.
    run = hashlib.sha1(testrun_uid.encode()).hexdigest()[:6]
    return "t%s%s" % (run, worker_id.replace("gw", "w"))


def _upstream_url(name):
    key = "PACER_UPSTREAM_" + name.upper().replace("-", "_")
    url = os.environ.get(key)
    if not url:
        pytest.fail(
            "no upstream named %r: %s is not set (declare it under "
            "[tool.pacer.upstreams.%s] or pass --upstream %s=URL)" % (name, key, name, name),
            pytrace=False,
        )
    return url


@pytest.fixture
def pacer_upstream():
    """`pacer_upstream("ofsc")` is the URL to use for that live API: pacer's
    rate-limiting proxy in front of it."""
    return _upstream_url


@pytest.fixture
def pacer_requests():
    """`pacer_requests("ofsc")` is a `requests.Session` whose relative URLs go
    through pacer's proxy: `session.get("/rest/resources")`."""
    requests = pytest.importorskip("requests")
    sessions = []

    class UpstreamSession(requests.Session):
        def __init__(self, base_url):
            super().__init__()
            self.base_url = base_url.rstrip("/")

        def request(self, method, url, *args, **kwargs):
            if "://" not in url:
                url = self.base_url + "/" + url.lstrip("/")
            return super().request(method, url, *args, **kwargs)

    def make(name):
        session = UpstreamSession(_upstream_url(name))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def pacer_httpx():
    """`pacer_httpx("ofsc")` is an `httpx.Client` with `base_url` set to pacer's
    proxy for that API."""
    httpx = pytest.importorskip("httpx")
    clients = []

    def make(name, **kwargs):
        client = httpx.Client(base_url=_upstream_url(name), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    if _active(session.config):
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    if not _active(session.config):
        return None
    if os.environ.get("PACER_ZYGOTE"):
        if not _zygote(session):
            return True
    profile_dir = os.environ.get("PACER_WORKER_PROFILE")
    if not profile_dir:
        session.config._pacer.main(session)
        return True
    # For pacer's own developers: where does a worker spend its time?
    import cProfile

    profiler = cProfile.Profile()
    profiler.runcall(session.config._pacer.main, session)
    profiler.dump_stats(os.path.join(profile_dir, "worker-%d.prof" % os.getpid()))
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector):
    # During discovery pacer wants the files, not their tests: stop at each
    # file so that no test module is imported.
    if _state["discovering"] and isinstance(collector, pytest.File):
        _state["files"].append(collector)
        from _pytest.reports import CollectReport

        return CollectReport(collector.nodeid, "passed", None, [])
    return None


def pytest_plugin_registered(plugin, plugin_name):
    if plugin_name and str(plugin_name).endswith("conftest.py"):
        _state.setdefault("conftests", {})[os.path.dirname(str(plugin_name))] = plugin


def _repend_conftests(session):
    """Let a second collection in this process see conftest fixtures again.

    pytest >= 9.1 binds a conftest's fixtures to the Directory node that first
    collected it, and a worker collects more than once (discovery, its share,
    files it takes over later), each time with new nodes. Handing the known
    conftests back to the fixture manager binds them to the new nodes too.
    """
    fm = getattr(session, "_fixturemanager", None)
    pending = getattr(fm, "_pending_conftests", None)
    if pending is None:
        return
    from pathlib import Path

    root = session.config.rootpath
    for directory, plugin in _state.get("conftests", {}).items():
        path = Path(directory)
        if path != root and root in path.parents:
            pending[path] = plugin


def _invocation_paths(config):
    """The paths pytest resolves the run's own arguments to (`--pyargs` names
    become their package's folder), as a full `pytest ARGS` would see them."""
    from pathlib import Path

    try:
        from _pytest.main import resolve_collection_argument
    except ImportError:  # pragma: no cover - a pytest without it
        return frozenset()
    paths = []
    namespace = config.getini("consider_namespace_packages")
    for index, arg in enumerate(config.args):
        try:
            resolved = resolve_collection_argument(
                config.invocation_params.dir,
                str(arg),
                index,
                as_pypath=config.option.pyargs,
                consider_namespace_packages=namespace,
            )
        except Exception:
            continue
        paths.append(Path(resolved.path))
    return frozenset(paths)


def _keep_invocation_relative_ids(config):
    """Give files outside the rootdir the node ids a full run gives them.

    pytest names a file outside the rootdir relative to the collection
    argument it came from (`--pyargs pkg.tests` gives `numeric/test_join.py`).
    A worker collects each file by its own path, which would name it `""`
    (so `::TestJoin::test_x`); looking at the run's arguments first keeps
    pytest's ids, the same on every worker.
    """
    from _pytest import nodes

    original = getattr(nodes, "_check_initialpaths_for_relpath", None)
    if original is None or getattr(original, "_pacer", False):
        return
    invocation = _invocation_paths(config)

    def relpath(initial_paths, path):
        found = original(invocation, path)
        if found is None:
            found = original(initial_paths, path)
        return found

    relpath._pacer = True
    nodes._check_initialpaths_for_relpath = relpath


def pytest_collectreport(report):
    worker = _state.get("worker")
    if worker is not None and not _state["discovering"]:
        worker.on_collectreport(report)


def pytest_deselected(items):
    worker = _state.get("worker")
    if worker is not None:
        worker.deselected += len(items)
        # Under --lf pacer words pytest's "skipped N files" from every
        # collected id, those -k or -m deselected included.
        if worker.config._pacer_options.get("lf"):
            worker.deselected_ids.extend(item.nodeid for item in items)


def pytest_runtest_logstart(nodeid, location):
    worker = _state.get("worker")
    if worker is not None:
        worker.channel.send({"t": "start", "id": nodeid})


def pytest_runtest_logreport(report):
    worker = _state.get("worker")
    if worker is not None:
        worker.on_report(report)


def pytest_warning_recorded(warning_message, when, nodeid, location):
    worker = _state.get("worker")
    if worker is None:
        return
    if not nodeid:
        # As pytest's WarningReport.get_location: outside a test, the
        # warning's own file and line, relative to the invocation folder.
        nodeid = _warning_location(worker.config, warning_message)
    worker.channel.send(
        {
            "t": "warning",
            "id": nodeid,
            "when": when,
            "message": _warning_text(warning_message),
        }
    )


def _collect_warnings(config):
    """Warnings raised while collecting, recorded as pytest records them.

    pytest catches them in its warnings plugin's `pytest_collection`
    wrapper, around the collection this plugin replaces; a worker collects
    later, in its run loop, so it opens the same catcher itself (not under
    `-p no:warnings`, where pytest records none).
    """
    import contextlib

    if not config.pluginmanager.has_plugin("warnings"):
        return contextlib.nullcontext()
    try:
        from _pytest.warnings import catch_warnings_for_item
    except ImportError:
        return contextlib.nullcontext()
    return catch_warnings_for_item(config=config, ihook=config.hook, when="collect", item=None)


def _warning_location(config, warning_message):
    try:
        from _pytest.pathlib import absolutepath, bestrelpath

        path = bestrelpath(config.invocation_params.dir, absolutepath(warning_message.filename))
    except Exception:
        path = warning_message.filename
    return "%s:%s" % (path, warning_message.lineno)


def _warning_text(warning_message):
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


def _zygote(session):
    """Fork workers on request, ready-made: pytest started, plugins loaded.

    pacer sends `{"t": "fork", "worker": "gw7", "env": [...]}` with three file
    descriptors (channel, stdout, stderr). The zygote forks twice so that the
    worker is orphaned to pacer, which made itself a child subreaper and so
    can wait for it and see how it died. Returns True in the new worker (which
    then runs as any other), False in the zygote when pacer says stop.
    """
    config = session.config
    zygote = config._pacer
    sock = zygote.channel.sock
    zygote.channel.send({"t": "hello_zygote", "pid": os.getpid()})
    while True:
        data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 3)
        if not data:
            _forget_coverage(config)
            return False
        for line in data.decode("utf-8").splitlines():
            msg = json.loads(line)
            if msg["t"] == "stop":
                _forget_coverage(config)
                return False
            if msg["t"] != "fork" or len(fds) != 3:
                raise RuntimeError("pacer zygote: unexpected %r with %d fds" % (msg.get("t"), len(fds)))
            if _fork_worker(session, zygote, msg, fds):
                return True
            fds = []


def _fork_worker(session, zygote, msg, fds):
    read_pid, write_pid = os.pipe()
    first = os.fork()
    if first == 0:
        os.close(read_pid)
        second = os.fork()
        if second:
            os.write(write_pid, str(second).encode())
            os._exit(0)
        os.close(write_pid)
        _become_worker(session, msg, fds)
        return True
    os.close(write_pid)
    pid = int(os.read(read_pid, 32) or b"0")
    os.close(read_pid)
    os.waitpid(first, 0)
    for fd in fds:
        os.close(fd)
    zygote.channel.send({"t": "forked", "worker": msg["worker"], "pid": pid})
    return False


def _become_worker(session, msg, fds):
    config = session.config
    os.setpgid(0, 0)
    channel_fd, out_fd, err_fd = fds
    os.environ.update(dict(msg["env"]))
    os.environ.pop("PACER_ZYGOTE", None)
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    # The zygote's channel is not ours; close it through its socket object so
    # that nothing closes fd 3 a second time once it is reused.
    zygote = config._pacer
    zygote.channel.reader.close()
    zygote.channel.sock.close()
    if capman is not None:
        capman.start_global_capturing()
        capman.suspend_global_capture(in_=False)
    env = _worker_env()
    config.workerinput.update({"workerid": env["id"], "workercount": env["count"]})
    config._pacer = Worker(config, Channel(channel_fd), env)
    _restart_coverage(config, env["id"])


# -- what xdist's controller would hand to plugins on the workers ---------------


def _controller_input(config, env):
    """`workerinput` keys that xdist-aware plugins expect from their controller
    (xdist's `pytest_configure_node`); pacer is that controller.

    * pytest-cov: the controller's host and folder. Workers run on pacer's
      host in pacer's folder, so they are "collocated": each saves its data
      file there and pacer combines them after the run (`cov_controller`).
    * pytest-rerunfailures: its failure-count server's address, read but
      not used (`_local_rerun_counts`).
    * pytest-randomly: one seed for every worker, chosen once per run. Given
      (`-p randomly -p "randomly_seed=N"`, `--randomly-seed=N`, `last`), the
      workers all parse the same value; else it comes from the run's id,
      which every worker shares.
    """
    given = {
        "cov_master_host": socket.gethostname(),
        "cov_master_topdir": os.getcwd(),
        "cov_master_rsync_roots": [],
    }
    if "pytest_rerunfailures" in sys.modules:
        # Read, never used: see `_local_rerun_counts`.
        given.update({"sock_port": None, "statusdb_token": None})
    if config.pluginmanager.hasplugin("randomly") and hasattr(config.option, "randomly_seed"):
        cache = _cache(config)
        seed = config.option.randomly_seed
        if seed == "last":
            seed = cache.get("randomly_seed", None) if cache is not None else None
        if not isinstance(seed, int):
            import hashlib

            digest = hashlib.sha256(("randomly:" + env["uid"]).encode()).hexdigest()
            seed = int(digest[:8], 16)
        if cache is not None:
            # What pytest-randomly's controller does, for `--randomly-seed=last`.
            cache.set("randomly_seed", seed)
        given["randomly_seed"] = seed
    return given


def _cache(config):
    """pytest's cache, which the cacheprovider plugin attaches to the config
    only after this plugin's `pytest_configure` ran; None with
    `-p no:cacheprovider`."""
    if not config.pluginmanager.hasplugin("cacheprovider"):
        return None
    cache = getattr(config, "cache", None)
    if cache is None:
        try:
            from _pytest.cacheprovider import Cache

            cache = Cache.for_config(config, _ispytest=True)
        except Exception:
            return None
    return cache


def _take_junitxml(config):
    """pytest's JUnit settings, wherever they came from (the command line,
    `addopts`, `PYTEST_ADDOPTS`, the ini file), for pacer, which writes the
    one report of the run. Read only: anything that clears `xmlpath` for the
    workers must run after this."""
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
    _state["junit"] = {
        "xmlpath": xmlpath or None,
        "prefix": getattr(config.option, "junitprefix", None),
        "family": family,
        "suite_name": suite_name,
    }
    # The worker never writes the file: pytest's junitxml plugin skips
    # xdist workers (`config.workerinput`), and pacer writes the one report.


def _local_rerun_counts():
    """pytest-rerunfailures, when xdist is installed, has each worker count
    failures in a socket server that xdist's controller runs
    (`workerinput["sock_port"]`), so that a test whose worker crashed can be
    rerun on another. pacer handles crashes itself; each worker keeps its
    counts in its own process, as pytest-rerunfailures does without xdist
    (a server thread would also not survive the zygote's fork). Reruns still
    happen inside the worker, as under xdist."""
    module = sys.modules.get("pytest_rerunfailures")
    client = getattr(module, "ClientStatusDB", None)
    local = getattr(module, "StatusDB", None)
    if client is None or local is None or getattr(client, "_pacer", False):
        return

    def local_status_db(sock_port=None, token=None):
        return local()

    local_status_db._pacer = True
    module.ClientStatusDB = local_status_db


def _json_text(value):
    return json.dumps(value, separators=(",", ":"), default=str)


def _cov_options(config):
    """pytest-cov's options as this worker parsed them (after its config file
    filled `fail_under` and `precision`), when pytest-cov is loaded and was
    asked for: pacer then combines and reports as xdist's controller would."""
    plugin = config.pluginmanager.get_plugin("_cov")
    options = getattr(plugin, "options", None)
    if options is None:
        return None
    wanted = {}
    for name, value in vars(options).items():
        if name.startswith(("cov_", "no_cov")):
            wanted[name] = value
    wanted["cov_append"] = _state.get("cov_append", wanted.get("cov_append", False))
    wanted["collectonly"] = bool(config.getoption("collectonly", False))
    data_file = None
    controller = getattr(plugin, "cov_controller", None)
    cov = getattr(controller, "cov", None)
    if cov is not None and getattr(cov, "_data", None) is not None:
        data_file = cov.get_data().data_filename()
    return {"options": wanted, "data_file": data_file}


def _forget_coverage(config):
    """The zygote measured nothing worth keeping (its forks measure their
    own tests); stop it and keep pytest-cov from saving a data file."""
    plugin = config.pluginmanager.get_plugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    if controller is None:
        return
    try:
        controller.cov.stop()
    except Exception:
        pass
    plugin.cov_controller = None


def _restart_coverage(config, nodeid):
    """A worker forked from the zygote inherits the zygote's coverage
    collector, whose data file name was fixed before the fork: every fork
    would write the same file. Start a fresh one, as a new worker would."""
    plugin = config.pluginmanager.get_plugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    if controller is None or getattr(controller, "cov", None) is None or not plugin._started:
        return
    try:
        controller.cov.stop()
    except Exception:
        pass
    plugin.start(type(controller), config, nodeid)


def cov_controller_main():
    """pytest-cov's controller side, run by pacer once after the workers ended
    (`python -c "import pacer_worker; pacer_worker.cov_controller_main()"`).

    Reads `{"workers": [[id, workeroutput, cov]], "failed"}` as JSON on stdin
    (`cov` being what `_cov_options` gave: pytest-cov's options and the
    worker's data file); combines the workers' data files with pytest-cov's own DistMaster
    and writes `{"after_tests", "title", "text", "fail"}` as JSON on stdout:
    the lines pytest-cov writes at the end of the test loop, its terminal
    summary section, and whether `--cov-fail-under` fails the run.
    """
    import argparse
    import io

    request = json.load(sys.stdin)
    result = {"after_tests": "", "title": "tests coverage", "text": "", "fail": False}
    covs = [cov for _id, _output, cov in request["workers"] if cov]
    options = argparse.Namespace(**covs[0]["options"])
    data_files = [cov["data_file"] for cov in covs if cov.get("data_file")]
    if getattr(options, "no_cov", False):
        if getattr(options, "no_cov_should_warn", False):
            result["text"] = "WARNING: Coverage disabled via --no-cov switch!\n"
        json.dump(result, sys.stdout)
        return

    import coverage
    from coverage.exceptions import CoverageException
    from coverage.results import display_covered, should_fail_under
    from pytest_cov import engine

    class Config:
        option = options

    class Gateway:
        def __init__(self, worker_id):
            self.id = worker_id

        def _rinfo(self):
            return argparse.Namespace(platform=sys.platform, version_info=tuple(sys.version_info))

    class Node:
        def __init__(self, worker_id, output):
            self.gateway = Gateway(worker_id)
            self.workeroutput = output

    master = engine.DistMaster(options, Config(), None)
    # DistMaster.start runs before any worker under xdist: it erases old data
    # (as each worker did again when it started, here too) and measures the
    # controller. Run after the workers, it must do neither: erasing would
    # drop the workers' data files, and with `--cov` and no source it would
    # measure this very file.
    start, erase = coverage.Coverage.start, coverage.Coverage.erase
    coverage.Coverage.start = coverage.Coverage.erase = lambda self: None
    try:
        master.start()
    finally:
        coverage.Coverage.start, coverage.Coverage.erase = start, erase
    for worker_id, output, _cov in request["workers"]:
        master.testnodedown(Node(worker_id, output or {}), None)
    # DistMaster.finish, with the old combined data dropped unless
    # `--cov-append` (the erase the workers skipped), and only this run's
    # data files combined.
    master.cov = master.combining_cov
    if not options.cov_append:
        try:
            os.remove(master.cov.config.data_file)
        except OSError:
            pass
    master.cov.load()
    data_files = [path for path in data_files if os.path.exists(path)]
    if data_files:
        master.cov.combine(data_paths=data_files)
    master.cov.save()

    needed = options.cov_report or options.cov_fail_under
    if not needed or (request.get("failed") and getattr(options, "no_cov_on_fail", False)):
        json.dump(result, sys.stdout)
        return
    stream = io.StringIO()
    try:
        total = master.summary(stream)
    except CoverageException as exc:
        result["after_tests"] += "\nWARNING: Failed to generate report: %s\n\n" % exc
        total = 0
    text = stream.getvalue()
    fail_under = options.cov_fail_under
    precision = options.cov_precision
    if fail_under is not None and not options.collectonly:
        if should_fail_under(total, fail_under, precision):
            result["after_tests"] += "\nERROR: Coverage failure: total of %s is less than fail-under=%.*f\n" % (
                display_covered(total, precision),
                precision,
                fail_under,
            )
            result["fail"] = True
    if fail_under is not None and fail_under > 0:
        failed = total < fail_under
        text += "%sRequired test coverage of %s%% %s. Total coverage: %.2f%%\n" % (
            "FAIL " if failed else "",
            fail_under,
            "not reached" if failed else "reached",
            total,
        )
    result["text"] = text
    json.dump(result, sys.stdout)


def _plugin_names(config):
    names = []
    for plugin, dist in config.pluginmanager.list_plugin_distinfo():
        name = dist.project_name
        if name.startswith("pytest-"):
            name = name[7:]
        entry = "%s-%s" % (name, dist.version)
        if entry not in names:
            names.append(entry)
    return names


def _report_section_text(report):
    return [[title, content] for title, content in report.sections]


class Worker:
    """The worker's side of the conversation with pacer."""

    def __init__(self, config, channel, env):
        self.config = config
        self.channel = channel
        self.env = env
        self.items = {}
        self.units = set()
        self.queue = []
        self.asked = False
        self.stopping = False
        self.reports = []
        self.deselected = 0
        self.deselected_ids = []
        self.collect_problems = []
        self.last_item = None
        self.applied_env = None
        self.durations_wanted = config.getoption("durations", None) is not None
        self.tbstyle = config.getoption("tbstyle", "auto")
        try:
            from _pytest.terminal import getreportopt

            self.reportchars = getreportopt(config)
        except Exception:
            self.reportchars = ""
        self.finished = False
        # JUnit's xunit1 family names each test's file and line.
        junit = _state.get("junit") or {}
        self.junit_locations = bool(junit.get("xmlpath")) and junit.get("family") == "xunit1"
        _state["worker"] = self

    # -- conversation -------------------------------------------------------

    def hello(self):
        import platform

        import pluggy

        config = self.config
        self.channel.send(
            {
                "t": "hello",
                "protocol": PROTOCOL,
                "worker": self.env["id"],
                "pid": os.getpid(),
                "python": platform.python_version(),
                "platform": sys.platform,
                "pytest": pytest.__version__,
                "pluggy": pluggy.__version__,
                "rootdir": str(config.rootpath),
                "configfile": str(config.inipath) if config.inipath else None,
                "plugins": _plugin_names(config),
                "options": getattr(config, "_pacer_options", {}),
                "header_lines": _state.get("header_lines", []),
                "executable": sys.executable,
                "invocation_dir": str(config.invocation_params.dir),
                "log_cli": bool(_state.get("log_cli")),
                "terminal": _state.get("terminal"),
                "junit": _state.get("junit"),
            }
        )

    def main(self, session):
        self.session = session
        self.hello()
        while True:
            msg = self.channel.recv()
            kind = msg["t"]
            if kind == "discover":
                self.discover(session)
            elif kind == "collect":
                self.collect(session, msg["units"], report=True)
            elif kind == "run":
                self.accept(msg)
                if self.run_queue(session):
                    break
            elif kind == "stop":
                break
            else:
                raise RuntimeError("pacer worker: unknown message %r" % kind)
        self.finish()

    def finish(self):
        # A queue dropped by "stop" may leave fixtures set up for the item
        # that would have come next; tear them down now and charge an error
        # to the last test that ran, as pytest would have. The teardown hooks
        # already ran for that item, so only the setup state is unwound here.
        setupstate = getattr(self.session, "_setupstate", None)
        if setupstate is not None and setupstate.stack and self.last_item is not None:
            from _pytest.outcomes import Exit
            from _pytest.reports import TestReport
            from _pytest.runner import CallInfo

            item = self.last_item
            call = CallInfo.from_call(
                lambda: setupstate.teardown_exact(None),
                when="teardown",
                reraise=(Exit, KeyboardInterrupt),
            )
            if call.excinfo is not None:
                self.reports = []
                self.on_report(TestReport.from_item_and_call(item, call))
                self.channel.send({"t": "late", "id": item.nodeid, "reports": self.reports})
                self.reports = []
        self.finished = True

    def bye(self):
        """The last word, from `pytest_sessionfinish`: plugins wrapped around
        the test loop (pytest-cov) have filled `config.workeroutput` by then."""
        if not self.finished:
            return
        self.finished = False
        msg = {"t": "bye", "workeroutput": _json_text(getattr(self.config, "workeroutput", {}))}
        cov = _cov_options(self.config)
        if cov is not None:
            msg["cov"] = _json_text(cov)
        self.channel.send(msg)

    # -- collection ---------------------------------------------------------

    def discover(self, session):
        """Find the files pytest would collect, without importing any of them."""
        args = list(self.config.args)
        path_args = [a for a in args if "::" not in a]
        node_args = [a for a in args if "::" in a]
        units = []
        try:
            if path_args:
                _state["discovering"] = True
                _state["files"] = []
                _repend_conftests(session)
                try:
                    session.perform_collect(path_args)
                finally:
                    _state["discovering"] = False
                seen = set()
                for node in _state.pop("files"):
                    # One file may yield several collectors (a Module and,
                    # with --doctest-modules, a DoctestModule): collecting
                    # its path gives them all, so it is one unit. Listed
                    # twice, two workers would collect and report its tests.
                    if node.path in seen:
                        continue
                    seen.add(node.path)
                    try:
                        size = os.path.getsize(str(node.path))
                    except OSError:
                        size = 0
                    units.append({"arg": str(node.path), "id": node.nodeid, "size": size})
            for arg in node_args:
                units.append({"arg": arg, "id": arg, "size": 0})
        except pytest.UsageError as exc:
            self.channel.send({"t": "usage_error", "message": "\n".join(map(str, exc.args))})
            return
        self.channel.send({"t": "discovered", "units": units})

    def collect(self, session, units, report):
        self.deselected = 0
        self.deselected_ids = []
        self.collect_problems = []
        new_units = [u for u in units if u not in self.units]
        self.units.update(new_units)
        items = []
        if new_units:
            _repend_conftests(session)
            try:
                with _collect_warnings(self.config):
                    items = session.perform_collect(new_units)
            except pytest.UsageError as exc:
                self.channel.send({"t": "usage_error", "message": "\n".join(map(str, exc.args))})
                return
        for item in items:
            self.items[item.nodeid] = item
        if report:
            self.channel.send(
                {
                    "t": "collected",
                    "items": [_item_entry(item) for item in items],
                    "problems": self.collect_problems,
                    "deselected": self.deselected,
                    "deselected_ids": self.deselected_ids,
                }
            )

    def on_collectreport(self, report):
        if report.passed:
            return
        self.collect_problems.append(
            {
                "id": report.nodeid,
                "outcome": report.outcome,
                "longrepr": _longrepr_text(report, self.config) if report.failed else report.longreprtext,
                "skip": _skip_location(report, self.config) if report.skipped else None,
            }
        )

    # -- running ------------------------------------------------------------

    def accept(self, msg):
        if msg.get("units"):
            self.collect(self.session, msg["units"], report=False)
        missing = [nodeid for nodeid in msg["tests"] if nodeid not in self.items]
        if missing:
            self.channel.send({"t": "missing", "ids": missing})
        env = dict(msg.get("env") or [])
        self.queue.extend((self.items[n], env) for n in msg["tests"] if n in self.items)

    def ask(self):
        if not self.asked and not self.stopping:
            self.asked = True
            self.channel.send({"t": "need"})

    def await_answer(self):
        """Block until pacer answers our `need`: more tests, `idle`, or `stop`."""
        while self.asked:
            msg = self.channel.recv()
            kind = msg["t"]
            self.asked = False
            if kind == "run":
                self.accept(msg)
            elif kind == "idle":
                pass
            elif kind == "stop":
                self.stopping = True
                self.queue = []
            else:
                raise RuntimeError("pacer worker: unexpected %r while waiting" % kind)

    def run_queue(self, session):
        hook = self.config.hook
        while self.queue and not self.stopping:
            if len(self.queue) <= LOW_WATER:
                self.ask()
            if len(self.queue) == 1 and self.asked:
                self.await_answer()
                if self.stopping:
                    break
            item, env = self.queue.pop(0)
            nextitem = self.queue[0][0] if self.queue else None
            if env is not self.applied_env:
                os.environ.update(env)
                self.applied_env = env
            self.last_item = item
            hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            # Once per test, when its protocol is over: pytest-rerunfailures
            # logs start and finish once per attempt, and the attempts are
            # one test, as xdist's `runtest_protocol_complete` counts them.
            self.on_finish(item.nodeid)
            if nextitem is None:
                self.last_item = None
        return self.stopping

    def on_report(self, report):
        when = report.when
        live = _LiveLog.take(when) if _state.get("log_cli") else None
        if report.passed and when != "call" and not hasattr(report, "wasxfail"):
            # pytest prints a passing teardown's own captured output after
            # its test's failure or pass section; rare, so looked for here.
            teardown = [[title, content] for title, content in report.sections
                        if when == "teardown" and "teardown" in title]
            if self.durations_wanted or live or teardown:
                # A phase that does not count: --durations, live logs, or
                # teardown output need it anyway.
                entry = {"when": when, "outcome": "passed", "cat": "", "word": "",
                         "dur": report.duration}
                if live:
                    entry["live_log"] = live
                if teardown:
                    entry["sections"] = teardown
                self.reports.append(entry)
            return
        status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        category, _letter, word = status if status else ("", "", "")
        if isinstance(word, tuple):
            word = word[0]
        entry = {"when": when, "outcome": report.outcome, "cat": category, "word": word,
                 "dur": report.duration}
        if report.failed:
            entry["longrepr"] = _longrepr_text(report, self.config)
            entry["sections"] = _report_section_text(report)
            entry["head"] = report.head_line
            entry["msg"] = _crash_message(report)
            if self.tbstyle == "line":
                entry["crash"] = _crash_line(report)
        elif report.skipped:
            entry["skip"] = _skip_location(report, self.config)
        elif report.sections and self.passes_wanted(category):
            # The PASSES / XPASSES sections of -rP / -rX show a passing
            # test's captured output; nothing is sent when they are off.
            entry["sections"] = _report_section_text(report)
            entry["head"] = report.head_line
        if hasattr(report, "wasxfail"):
            entry["xfail"] = report.wasxfail
        if live:
            entry["live_log"] = live
        if self.junit_locations:
            entry["loc"] = [report.location[0], report.location[1]]
        self.reports.append(entry)

    def passes_wanted(self, category):
        if self.tbstyle == "no":
            return False
        return ("P" in self.reportchars and category == "passed") or (
            "X" in self.reportchars and category == "xpassed"
        )

    def on_finish(self, nodeid):
        # Held until the next test starts or the worker waits: a crash before
        # then is charged to the next test's `start`, which is sent at once.
        self.channel.hold({"t": "done", "id": nodeid, "reports": self.reports})
        self.reports = []


def _longrepr_text(report, config):
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


def _crash_line(report):
    """`--tb=line`'s one line, as TerminalReporter._getcrashline makes it."""
    try:
        return str(report.longrepr.reprcrash)
    except AttributeError:
        return str(report.longrepr)[:50]

def _item_entry(item):
    """`[node id, marker names, {"scope": ..., "group": ...}]` for `collected`.

    `scope` names what a module- or class-scoped fixture is set up for: the
    class (or module) plus the values of parameters of a wider scope than
    the function. pacer cuts big files only where it changes, so that such a
    fixture is not set up again on another worker without need. `group` is
    the name of an `xdist_group` mark, as pytest-xdist's loadgroup reads it.
    """
    holder = item.getparent(pytest.Class) or item.getparent(pytest.Module) or item.parent
    scope = holder.nodeid if holder is not None else item.nodeid
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        wide = []
        for name, arg_scope in getattr(callspec, "_arg2scope", {}).items():
            if getattr(arg_scope, "value", "function") != "function":
                wide.append("%s=%s" % (name, callspec.indices.get(name)))
        if wide:
            scope = "%s[%s]" % (scope, ",".join(sorted(wide)))
    names = set()
    for mark in item.iter_markers("xdist_group"):
        name = mark.args[0] if mark.args else mark.kwargs.get("name", "default")
        names.add(str(name))
    extra = {"scope": scope}
    if names:
        extra["group"] = "_".join(sorted(names))
    return [item.nodeid, [m.name for m in item.iter_markers()], extra]


def _crash_message(report):
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


def _skip_location(report, config):
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

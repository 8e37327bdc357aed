"""The worker's side of the conversation with pacer, and all it keeps.

One `Worker` per process holds everything the plugin knows about its
session: what pytest parsed (sent in `hello`), the tests it collected, the
queue it was handed, the reports not yet sent. The hooks in `hooks` find it
with `current()`; pytest calls some of them without the config.

Messages from pacer go through one table, `MESSAGES`: each says when it may
arrive, as an order (the worker waits for work) or as the answer to the
worker's `need`. The zygote's `fork` and `stop` are read by `zygote`, as
they carry file descriptors.
"""

import os
import sys

import pytest

from . import collect, cov, cputime, crash, options, reports, reruns, touched
from .channel import PROTOCOL, dumps, unwire, wire

# Ask for more work while this many tests are still queued, so that the answer
# is usually here before the queue runs dry.
LOW_WATER = 2

_current = None


def start(config, channel, env, pytest_options, junit, cov_append):
    """Make this process's worker, from `pytest_configure`."""
    global _current
    _current = Worker(config, channel, env, pytest_options, junit, cov_append)
    return _current


def current():
    """The worker of this process, once `start` made it."""
    return _current


def active(config):
    """This config's worker, or None when pytest runs without pacer."""
    worker = _current
    return worker if worker is not None and worker.config is config else None


def forget(config):
    """Drop the worker at `pytest_unconfigure` (pytest may run again in the
    same process, as under `pytester`)."""
    global _current
    if active(config) is not None:
        _current = None


class Worker:
    def __init__(self, config, channel, env, pytest_options, junit, cov_append):
        self.config = config
        self.channel = channel
        # {"id", "count", "uid"}: `xdist.worker_env`.
        self.env = env
        self.session = None
        # Known from `pytest_configure`: what pytest parsed, for `hello`, and
        # what pacer takes over for the whole run.
        self.options = pytest_options
        self.junit = junit
        # The user's own `--cov-append`; None without pytest-cov (`cov.keep_data_files`).
        self.cov_append = cov_append
        self.entries = reports.PhaseEntries(config, junit)
        # Known from `pytest_sessionstart`.
        self.header_lines = []
        self.terminal = None
        self.live_log = None
        # Collection: the `File` collectors seen while discovering (None
        # otherwise), the units and tests collected so far, and what the
        # last `collect` deselected and could not collect.
        self.discovered = None
        self.units = set()
        self.items = {}
        self.deselected = 0
        self.deselected_ids = []
        self.collect_problems = []
        # The whole collection: held (this process collected everything, or
        # was forked from the one that did), and the node ids as collected
        # before `pytest_collection_modifyitems` (`hooks`).
        self.whole = False
        self.collected_order = None
        # Running: (item, env) pairs handed out and not yet run; a `need` is
        # unanswered; pacer said stop; the running test's phase reports.
        self.queue = []
        self.asked = False
        self.stopping = False
        self.reports = []
        self.last_item = None
        self.applied_env = None
        # The loop ended and `bye` is still to be sent.
        self.finished = False
        # What each test leaves behind, only when pacer asks (`touched`).
        self.tracer = touched.Tracer(config) if touched.enabled() else None

    def rebind(self, channel, env):
        """Become a worker forked from the zygote, with its own channel and id."""
        self.channel = channel
        self.env = env

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
                "plugins": options.plugin_names(config),
                "options": self.options,
                "header_lines": self.header_lines,
                "executable": sys.executable,
                "invocation_dir": str(config.invocation_params.dir),
                "log_cli": self.live_log is not None,
                "terminal": self.terminal,
                "junit": self.junit,
                "whole": self.whole,
                # pytest-randomly's seed for the run (`xdist.controller_input`),
                # recorded so that a replay reuses it.
                "randomly_seed": getattr(config, "workerinput", {}).get("randomly_seed"),
            }
        )

    def main(self, session):
        """The run loop: take orders until pacer says stop."""
        self.session = session
        self.hello()
        while not self.stopping:
            if self.queue:
                self.run_queue()
            else:
                self.dispatch(self.channel.recv())
        self.finish()

    def dispatch(self, msg):
        kind = msg.get("t")
        entry = MESSAGES.get(kind)
        if entry is None:
            raise RuntimeError("pacer worker: unknown message %r" % kind)
        handler, as_order, as_answer, answers = entry
        if not (as_answer if self.asked else as_order):
            raise RuntimeError(
                "pacer worker: unexpected %r %s" % (kind, "while waiting" if self.asked else "unasked")
            )
        if answers:
            self.asked = False
        handler(self, msg)

    def on_discover(self, _msg):
        self.discover()

    def on_collect(self, msg):
        self.collect(msg["units"], report=True)

    def on_collect_all(self, msg):
        self.collect_all(msg.get("ignore") or [])

    def on_select(self, msg):
        """pacer runs only these of the collection (its categories, `--lf`,
        the shard): the rest leave `session.items`, deselected as pytest's
        own `-m` and `--lf` deselect."""
        gone = set(msg.get("deselect") or ())
        if not gone:
            return
        kept, dropped = [], []
        for item in self.session.items:
            (dropped if wire(item.nodeid) in gone else kept).append(item)
        self.session.items[:] = kept
        if not self.whole:
            # Split collection: this worker's share of the files, of which
            # session.items holds the last part it collected.
            seen = {id(item) for item in dropped}
            dropped.extend(
                item for nodeid, item in self.items.items() if nodeid in gone and id(item) not in seen
            )
        if dropped:
            self.config.hook.pytest_deselected(items=dropped)

    def on_serve(self, _msg):
        """Become the zygote of the run's workers, once the whole collection
        is here: each fork holds it."""
        from . import zygote

        # pacer sends nothing after `serve` until the zygote's hello but,
        # maybe, `stop`: the zygote reads the socket itself, so a line
        # already read into the channel's buffer is handled here.
        early = self.channel.poll()
        if early is not None:
            if early.get("t") != "stop":
                raise RuntimeError("pacer worker: unexpected %r before serving" % early.get("t"))
            self.stopping = True
            return
        if zygote.serve(self.session, self, keep_coverage=True):
            # A new worker: a conversation of its own, from its hello.
            self.queue = []
            self.asked = False
            self.stopping = False
            self.hello()
        else:
            # pacer said stop: the zygote ran no test, and ends its session
            # as a worker does (its `bye` carries what pytest-cov measured
            # while it collected).
            self.stopping = True

    def on_run(self, msg):
        self.accept(msg)

    def on_idle(self, _msg):
        """Nothing more for now: run what is left and ask again."""

    def on_unqueue(self, msg):
        """pacer takes back tests this worker holds but has not started, for
        a worker with nothing to do. The next one stays: the test that ran
        last was torn down with it as its next item, and its fixtures may be
        set up already."""
        wanted = set(msg["tests"])
        kept, given = self.queue[:1], []
        for entry in self.queue[1:]:
            (given if wire(entry[0].nodeid) in wanted else kept).append(entry)
        self.queue = kept
        self.channel.send({"t": "unqueued", "ids": [item.nodeid for item, _env in given]})

    def on_stop(self, _msg):
        self.stopping = True
        self.queue = []

    def ask(self):
        if not self.asked and not self.stopping:
            self.asked = True
            self.channel.send({"t": "need"})

    def await_answer(self):
        """Block until pacer answers our `need`: more tests, `idle`, or `stop`."""
        while self.asked:
            self.dispatch(self.channel.recv())

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
        for nodeid, pid, command in crash.end_leaks():
            message = "LEAK: the test left process %d running (%s); pacer ended it" % (pid, command)
            self.channel.send({"t": "warning", "id": nodeid, "when": "runtest", "message": message})
        self.finished = True

    def bye(self):
        """The last word, from `pytest_sessionfinish`: plugins wrapped around
        the test loop (pytest-cov) have filled `config.workeroutput` by then."""
        if not self.finished:
            return
        self.finished = False
        crash.name_left_threads()
        msg = {"t": "bye", "workeroutput": dumps(getattr(self.config, "workeroutput", {}))}
        coverage = cov.options(self.config, self.cov_append)
        if coverage is not None:
            msg["cov"] = dumps(coverage)
        self.channel.send(msg)

    # -- collection ---------------------------------------------------------

    def discover(self):
        """Find the files pytest would collect, without importing any of them."""
        session = self.session
        args = list(self.config.args)
        path_args = [a for a in args if "::" not in a]
        node_args = [a for a in args if "::" in a]
        units = []
        files = []
        try:
            if path_args:
                self.discovered = []
                collect.repend_conftests(session)
                try:
                    session.perform_collect(path_args)
                    files = self.discovered
                finally:
                    self.discovered = None
                units.extend(collect.discovered_units(files))
            for arg in node_args:
                units.append({"arg": arg, "id": arg, "size": 0})
        except pytest.UsageError as exc:
            self.channel.send({"t": "usage_error", "message": "\n".join(map(str, exc.args))})
            return
        test_files = [node.path for node in files]
        test_files += [os.path.join(str(self.config.invocation_params.dir), a.split("::")[0]) for a in node_args]
        self.channel.send(
            {"t": "discovered", "units": units, "whole": collect.whole_reason(self.config, test_files)}
        )

    def on_file_found(self, collector):
        """During discovery (`pytest_make_collect_report`): True when the file
        is noted and must not be collected further."""
        if self.discovered is None or not isinstance(collector, pytest.File):
            return False
        self.discovered.append(collector)
        return True

    def perform_collect(self, args):
        """One collection in this process (`args`: None for the run's own),
        with what a repeated one needs; None after a usage error, which is
        sent to pacer."""
        self.deselected = 0
        self.deselected_ids = []
        self.collect_problems = []
        collect.repend_conftests(self.session)
        crash.watch_collection(self.config)
        try:
            with collect.collect_warnings(self.config):
                return self.session.perform_collect(args)
        except pytest.UsageError as exc:
            self.channel.send({"t": "usage_error", "message": "\n".join(map(str, exc.args))})
            return None

    def send_collected(self, items, **extra):
        msg = {
            "t": "collected",
            "items": [collect.item_entry(item) for item in items],
            "problems": self.collect_problems,
            "deselected": self.deselected,
            "deselected_ids": self.deselected_ids,
        }
        msg.update(extra)
        self.channel.send(msg)

    def collect(self, units, report):
        # Kept as pacer names them; collected as Python names them.
        fresh = [u for u in units if u not in self.units]
        self.units.update(fresh)
        items = []
        if fresh:
            items = self.perform_collect([unwire(u) for u in fresh])
            if items is None:
                return
        else:
            self.deselected, self.deselected_ids, self.collect_problems = 0, [], []
        for item in items:
            self.items[wire(item.nodeid)] = item
        if report:
            self.send_collected(items)

    def collect_all(self, ignore):
        """pytest's own collection of the whole run, every hook included;
        `ignore`: files a collection before this one hung in."""
        args = None
        if ignore:
            # Left out of a folder's walk (`--ignore`), and out of the
            # arguments when one names such a file.
            hung = [(self.config.rootpath / unwire(nodeid)).resolve() for nodeid in ignore]
            given = self.config.getoption("ignore", None) or []
            self.config.option.ignore = list(given) + [str(path) for path in hung]
            args = collect.args_without(self.config, hung)
        self.collected_order = None
        items = self.perform_collect(args)
        if items is None:
            return
        self.items = {wire(item.nodeid): item for item in items}
        self.whole = True
        before = self.collected_order if self.collected_order is not None else [i.nodeid for i in items]
        self.collected_order = None
        ordered = None
        if collect.imposed_order(before, items):
            ordered = ", ".join(collect.reorderers(self.config)) or "pytest_collection_modifyitems"
        self.send_collected(items, whole=True, ordered=ordered)

    def on_modifyitems(self, items):
        """Before any `pytest_collection_modifyitems` of the whole collection:
        the order as collected, to tell whether the hooks changed it."""
        if self.discovered is None:
            self.collected_order = [item.nodeid for item in items]

    def on_collectreport(self, report):
        if self.discovered is not None or report.passed:
            return
        self.collect_problems.append(reports.collect_problem(report, self.config))

    def on_deselected(self, items):
        self.deselected += len(items)
        # Under --lf pacer words pytest's "skipped N files" from every
        # collected id, those -k or -m deselected included.
        if self.options.get("lf"):
            self.deselected_ids.extend(item.nodeid for item in items)

    # -- running ------------------------------------------------------------

    def accept(self, msg):
        if msg.get("units"):
            self.collect(msg["units"], report=False)
        missing = [nodeid for nodeid in msg["tests"] if nodeid not in self.items]
        if missing:
            self.channel.send({"t": "missing", "ids": missing})
        env = dict(msg.get("env") or [])
        self.queue.extend((self.items[n], env) for n in msg["tests"] if n in self.items)

    def run_queue(self):
        hook = self.config.hook
        while self.queue and not self.stopping:
            msg = self.channel.poll()
            while msg is not None:
                self.dispatch(msg)
                msg = None if self.stopping or not self.queue else self.channel.poll()
            if not self.queue or self.stopping:
                break
            if len(self.queue) <= LOW_WATER:
                self.ask()
            if len(self.queue) == 1 and self.asked:
                self.await_answer()
                if self.stopping:
                    break
            item, env = self.queue.pop(0)
            # With nothing queued (pacer said `idle`), the session is the next
            # item: module and class fixtures end as pytest would end them,
            # but session fixtures live on, set up once per worker as under
            # xdist; `finish` tears them down when pacer says stop.
            nextitem = self.queue[0][0] if self.queue else self.session
            if env is not self.applied_env:
                os.environ.update(env)
                self.applied_env = env
            self.last_item = item
            if self.tracer is not None:
                self.tracer.begin()
            stopwatch = cputime.Stopwatch()
            try:
                hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            except BaseException as exc:
                # pytest.exit() or Ctrl-C inside the test: pytest ends the
                # session (and this worker) with it; pacer ends the run.
                self.on_exit(item, exc)
                raise
            # Once per test, when its protocol is over: pytest-rerunfailures
            # logs start and finish once per attempt, and the attempts are
            # one test, as xdist's `runtest_protocol_complete` counts them.
            times = stopwatch.read()
            if self.tracer is not None:
                touched_record = self.tracer.end()
                if touched_record:
                    times["touched"] = touched_record
            self.on_finish(item.nodeid, times)

    def on_exit(self, item, exc):
        from _pytest.outcomes import Exit

        if isinstance(exc, Exit):
            msg = {"message": str(exc.msg), "returncode": exc.returncode}
        elif isinstance(exc, KeyboardInterrupt):
            msg = {"interrupt": True}
        else:
            return
        msg.update({"t": "exit", "id": item.nodeid})
        try:
            self.channel.send(msg)
        except OSError:
            pass

    def on_start(self, nodeid):
        self.channel.send({"t": "start", "id": nodeid})

    def on_report(self, report):
        live = self.live_log.take(report.when) if self.live_log is not None else None
        entry = self.entries.entry(report, live)
        if entry is not None:
            self.reports.append(entry)

    def on_finish(self, nodeid, times):
        # Held until the next test starts or the worker waits: a crash before
        # then is charged to the next test's `start`, which is sent at once.
        reruns.mark_flaky(self.reports)
        self.channel.hold({"t": "done", "id": nodeid, "reports": self.reports, **times})
        self.reports = []
        crash.note_children(nodeid)

    def on_warning(self, warning_message, when, nodeid):
        if not nodeid:
            nodeid = reports.warning_location(self.config, warning_message)
        self.channel.send(
            {
                "t": "warning",
                "id": nodeid,
                "when": when,
                "message": reports.warning_text(warning_message),
            }
        )


# Every message pacer sends a worker: its handler, and whether it may come
# as an order (nothing asked) and as the answer to the worker's `need`.
MESSAGES = {
    # kind: (handler, may come as an order, may come while we wait for the
    # answer to `need`, is that answer)
    "discover": (Worker.on_discover, True, False, True),
    "collect": (Worker.on_collect, True, False, True),
    "collect_all": (Worker.on_collect_all, True, False, True),
    "select": (Worker.on_select, True, False, False),
    "serve": (Worker.on_serve, True, False, True),
    "run": (Worker.on_run, True, True, True),
    "idle": (Worker.on_idle, False, True, True),
    "stop": (Worker.on_stop, True, True, True),
    "unqueue": (Worker.on_unqueue, True, True, False),
}

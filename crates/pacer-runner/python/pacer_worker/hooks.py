"""The pytest hooks of the plugin: each one short, handing over to the module
that does the work and to this process's `Worker`, which keeps the state.

Every hook does nothing unless pacer started the process (`PACER_FD` set,
hence a `Worker`): the plugin may be loaded by a plain pytest run too.
"""

import os

import pytest

from . import basetemp, collect, cov, options, reruns, worker, xdist, zygote
from .channel import Channel
from .livelog import LiveLog

# The user's own `--cov-append`, seen before pytest-cov starts.
COV_APPEND = pytest.StashKey()


def pytest_addoption(parser):
    if os.environ.get("PACER_FD") and not xdist.installed():
        xdist.addoption(parser)
    if os.environ.get("PACER_FD") and not reruns.plugin_installed():
        reruns.addoption(parser)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if os.environ.get("PACER_FD"):
        given = cov.keep_data_files(early_config)
        if given is not None:
            early_config.stash[COV_APPEND] = given
    return (yield)


# pytest-xdist's `-f`, seen before xdist's own `pytest_cmdline_main` takes
# the process over to watch files: pacer hands that mode to plain pytest.
LOOPONFAIL = pytest.StashKey()


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config):
    # A wrapper runs before every plain implementation, tryfirst ones too.
    if os.environ.get("PACER_FD") and getattr(config.option, "looponfail", False):
        config.stash[LOOPONFAIL] = True
        config.option.looponfail = False
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    fd = os.environ.get("PACER_FD")
    if not fd:
        return
    env = xdist.worker_env()
    xdist.become_worker(config, env)
    # Before pytest's tmpdir plugin reads `--basetemp` (its configure runs after).
    basetemp.share(config, env["id"])
    # Read before `neutralise` clears what pacer does for the whole run.
    junit = options.junit_options(config)
    parsed = options.pytest_options(config)
    parsed["looponfail"] = parsed["looponfail"] or config.stash.get(LOOPONFAIL, False)
    options.neutralise(config)
    worker.start(config, Channel(int(fd)), env, parsed, junit, config.stash.get(COV_APPEND, None))
    reruns.configure(config)
    collect.keep_invocation_relative_ids(config)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    config = session.config
    current = worker.active(config)
    if current is None:
        return
    current.header_lines = options.header_lines(config)
    current.terminal = options.terminal_options(config)
    # The controller draws the terminal; a worker's reporter would only cost time.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
    current.live_log = LiveLog.install(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    # A worker collects only what it is told to, in its run loop.
    if worker.active(session.config) is not None:
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector):
    # During discovery pacer wants the files, not their tests: stop at each
    # file so that no test module is imported.
    current = worker.current()
    if current is not None and current.on_file_found(collector):
        from _pytest.reports import CollectReport

        return CollectReport(collector.nodeid, "passed", None, [])
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    # Outermost: the order as collected, before any plugin changed it.
    current = worker.active(config)
    if current is not None:
        current.on_modifyitems(items)
    return (yield)


def pytest_collectreport(report):
    current = worker.current()
    if current is not None:
        current.on_collectreport(report)


def pytest_deselected(items):
    current = worker.current()
    if current is not None:
        current.on_deselected(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    current = worker.active(session.config)
    if current is None:
        return None
    if os.environ.get("PACER_ZYGOTE"):
        if not zygote.serve(session, current):
            return True
    profile_dir = os.environ.get("PACER_WORKER_PROFILE")
    if not profile_dir:
        current.main(session)
        return True
    # For pacer's own developers: where does a worker spend its time?
    import cProfile

    profiler = cProfile.Profile()
    profiler.runcall(current.main, session)
    profiler.dump_stats(os.path.join(profile_dir, "worker-%d.prof" % os.getpid()))
    return True


def pytest_runtest_logstart(nodeid, location):
    current = worker.current()
    if current is not None:
        current.on_start(nodeid)


def pytest_runtest_logreport(report):
    current = worker.current()
    if current is not None:
        current.on_report(report)


def pytest_warning_recorded(warning_message, when, nodeid, location):
    current = worker.current()
    if current is not None:
        current.on_warning(warning_message, when, nodeid)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    current = worker.active(session.config)
    if current is not None:
        current.bye()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # After every other plugin's: a worker is done only when pytest is.
    worker.forget(config)

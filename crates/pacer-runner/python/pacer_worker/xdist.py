"""pytest-xdist compatibility: pacer plays xdist's controller.

A worker looks to pytest-xdist, when installed, and to xdist-aware plugins
(pytest-cov, pytest-randomly, pytest-rerunfailures) like an xdist worker:
`config.workerinput` with the keys their controller side would have put
there, and `config.workeroutput` for what they hand back (sent in `bye`).
Without xdist installed, its command-line options are still accepted, so
that an `-n auto --dist loadfile` in the project's addopts reaches pacer.
"""

import hashlib
import importlib.util
import os
import socket
import sys


def worker_env():
    """This worker's id, the number of workers and the run's id, as pacer
    sets them in the environment (xdist's names)."""
    return {
        "id": os.environ.get("PACER_WORKER_ID", "gw0"),
        "count": int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
        "uid": os.environ.get("PYTEST_XDIST_TESTRUNUID", ""),
    }


def become_worker(config, env):
    """Set `workerinput` and `workeroutput`: pytest-xdist must see a worker,
    not a controller (its worker_id/testrun_uid fixtures and plugins that
    ask `is_xdist_worker` read `config.workerinput`, and an `-n` in addopts
    must not fork again)."""
    config.workerinput = {
        "workerid": env["id"],
        "workercount": env["count"],
        "testrunuid": env["uid"],
        "mainargv": list(sys.argv),
    }
    config.workerinput.update(controller_input(config, env))
    local_rerun_counts()
    config.workeroutput = {}


def rename_worker(config, env):
    """A worker forked from the zygote takes its own id."""
    config.workerinput.update({"workerid": env["id"], "workercount": env["count"]})


def controller_input(config, env):
    """`workerinput` keys that xdist-aware plugins expect from their controller
    (xdist's `pytest_configure_node`); pacer is that controller.

    * pytest-cov: the controller's host and folder. Workers run on pacer's
      host in pacer's folder, so they are "collocated": each saves its data
      file there and pacer combines them after the run (`cov.controller_main`).
    * pytest-rerunfailures: its failure-count server's address, read but
      not used (`local_rerun_counts`).
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
        # Read, never used: see `local_rerun_counts`.
        given.update({"sock_port": None, "statusdb_token": None})
    if config.pluginmanager.hasplugin("randomly") and hasattr(config.option, "randomly_seed"):
        cache = _cache(config)
        seed = config.option.randomly_seed
        if seed == "last":
            seed = cache.get("randomly_seed", None) if cache is not None else None
        if not isinstance(seed, int):
            seed = randomly_seed(env["uid"])
        if cache is not None:
            # What pytest-randomly's controller does, for `--randomly-seed=last`.
            cache.set("randomly_seed", seed)
        given["randomly_seed"] = seed
    return given


def randomly_seed(testrunuid):
    """The seed every worker of one run shares when none was given."""
    digest = hashlib.sha256(("randomly:" + testrunuid).encode()).hexdigest()
    return int(digest[:8], 16)


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


def local_rerun_counts():
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


def installed():
    return importlib.util.find_spec("xdist") is not None


def addoption(parser):
    """xdist's options, for pacer to read, when xdist is not installed:
    pytest would refuse an `-n auto --dist loadfile` in the addopts."""
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

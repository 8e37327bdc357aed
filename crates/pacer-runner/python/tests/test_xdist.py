"""The keys xdist's controller would give the plugins of a worker."""

import sys
import types

import pytest

from pacer_worker import xdist

ENV = {"id": "gw2", "count": 4, "uid": "abc"}


def test_a_worker_looks_like_an_xdist_worker(pytester):
    config = pytester.parseconfig()
    xdist.become_worker(config, ENV)
    given = config.workerinput
    assert (given["workerid"], given["workercount"], given["testrunuid"]) == ("gw2", 4, "abc")
    assert given["mainargv"] == sys.argv
    # pytest-cov: collocated with its controller, pacer.
    assert given["cov_master_topdir"] == str(pytester.path)
    assert given["cov_master_rsync_roots"] == []
    assert "cov_master_host" in given
    assert "randomly_seed" not in given and "sock_port" not in given
    assert config.workeroutput == {}
    xdist.rename_worker(config, {"id": "gw9", "count": 5, "uid": "abc"})
    assert (given["workerid"], given["workercount"]) == ("gw9", 5)


def test_worker_env_reads_pacers_variables(monkeypatch):
    monkeypatch.setenv("PACER_WORKER_ID", "gw7")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "8")
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "uid")
    assert xdist.worker_env() == {"id": "gw7", "count": 8, "uid": "uid"}


class FakeRandomly:
    """pytest-randomly's option, as its plugin adds it."""

    def __init__(self, pytester, seed):
        self.config = pytester.parseconfigure()
        self.config.pluginmanager.register(types.SimpleNamespace(), "randomly")
        self.config.option.randomly_seed = seed


@pytest.mark.parametrize("seed", [1234, "default"])
def test_randomly_gets_one_seed_per_run(pytester, seed):
    config = FakeRandomly(pytester, seed).config
    given = xdist.controller_input(config, ENV)
    want = seed if isinstance(seed, int) else xdist.randomly_seed("abc")
    assert given["randomly_seed"] == want
    # Kept, as pytest-randomly's controller does, for `--randomly-seed=last`.
    assert config.cache.get("randomly_seed", None) == want


def test_randomly_last_reuses_the_cached_seed(pytester):
    config = FakeRandomly(pytester, "last").config
    config.cache.set("randomly_seed", 99)
    assert xdist.controller_input(config, ENV)["randomly_seed"] == 99


def test_the_run_seed_differs_between_runs_and_not_between_workers():
    assert xdist.randomly_seed("run-1") == xdist.randomly_seed("run-1")
    assert xdist.randomly_seed("run-1") != xdist.randomly_seed("run-2")


def test_rerunfailures_counts_in_the_worker(pytester, monkeypatch):
    class StatusDB:
        pass

    class ClientStatusDB:
        def __init__(self, sock_port, token):
            raise AssertionError("no controller to connect to")

    module = types.SimpleNamespace(StatusDB=StatusDB, ClientStatusDB=ClientStatusDB)
    monkeypatch.setitem(sys.modules, "pytest_rerunfailures", module)
    config = pytester.parseconfig()
    xdist.become_worker(config, ENV)
    assert (config.workerinput["sock_port"], config.workerinput["statusdb_token"]) == (None, None)
    assert isinstance(module.ClientStatusDB(sock_port=None, token=None), StatusDB)


def test_xdist_options_are_accepted_without_xdist():
    from _pytest.config.argparsing import Parser

    parser = Parser(_ispytest=True)
    xdist.addoption(parser)
    parsed = parser.parse(["-n", "auto", "--dist", "loadgroup", "--maxprocesses=3"])
    assert (parsed.numprocesses, parsed.dist, parsed.maxprocesses) == ("auto", "loadgroup", 3)
    assert parser.parse(["-d"]).distload is True

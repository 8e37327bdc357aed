"""What the worker reports of pytest's parsed options, for given command
lines and ini files, and what it then takes away from itself."""

import os

from pacer_worker import options


def test_defaults(pytester):
    config = pytester.parseconfig()
    got = options.pytest_options(config)
    assert got["verbose"] == 0
    assert got["maxfail"] == 0
    assert got["tbstyle"] == "auto"
    assert got["capture"] == "fd"
    assert (got["lf"], got["ff"], got["lfnf"]) == (False, False, "all")
    assert got["cache_dir"] == str(pytester.path / ".pytest_cache")
    assert got["numprocesses"] is None and got["dist"] == "no"
    assert got["xmlpath"] is None and got["pdb"] is False


def test_command_line(pytester):
    config = pytester.parseconfig(
        "-x", "-vv", "-rA", "--tb=short", "-s", "--lf", "--lfnf=none",
        "--durations=5", "--durations-min=0.5", "-n", "3", "--maxprocesses=2",
        "--dist", "loadfile", "--junitxml=out/report.xml", "tests", "tests/test_x.py::test_y",
    )
    got = options.pytest_options(config)
    assert got["maxfail"] == 1
    assert got["verbose"] == 2
    assert got["reportchars"] == "wPpsxXEf"
    assert got["tbstyle"] == "short"
    assert got["capture"] == "no"
    assert (got["lf"], got["lfnf"]) == (True, "none")
    assert (got["durations"], got["durations_min"]) == (5, 0.5)
    assert (got["numprocesses"], got["maxprocesses"], got["dist"]) == ("3", 2, "loadfile")
    assert got["xmlpath"] == os.path.join(str(pytester.path), "out", "report.xml")
    assert got["file_or_dir"] == ["tests", "tests/test_x.py::test_y"]


def test_ini_addopts_and_cache_dir(pytester):
    pytester.makeini(
        """
        [pytest]
        addopts = --maxfail=2 -q --ff -d
        cache_dir = .my_cache
        """
    )
    got = options.pytest_options(pytester.parseconfig())
    assert got["maxfail"] == 2
    assert got["verbose"] == -1
    assert got["ff"] is True
    # xdist's `-d` alone means load balancing.
    assert got["dist"] == "load"
    assert got["cache_dir"] == str(pytester.path / ".my_cache")


def test_no_cacheprovider_means_no_cache_dir(pytester):
    got = options.pytest_options(pytester.parseconfig("-p", "no:cacheprovider"))
    assert got["cache_dir"] is None


def test_junit_options_follow_ini_and_command_line(pytester):
    pytester.makeini(
        """
        [pytest]
        junit_family = legacy
        junit_suite_name = mine
        """
    )
    config = pytester.parseconfig("--junitxml=r.xml", "--junitprefix=pre")
    assert options.junit_options(config) == {
        "xmlpath": str(pytester.path / "r.xml"),
        "prefix": "pre",
        "family": "xunit1",
        "suite_name": "mine",
    }


def test_neutralise_leaves_the_whole_run_to_pacer(pytester):
    config = pytester.parseconfig("-x", "--lf", "--ff", "-n", "2", "--junitxml=r.xml")
    options.neutralise(config)
    assert config.option.maxfail == 0
    assert (config.option.lf, config.option.failedfirst) == (False, False)
    assert config.option.numprocesses is None
    assert config.option.dist == "no"
    assert config.option.xmlpath is None


def test_terminal_options(pytester):
    config = pytester.parseconfig("--no-header", "--color=yes", "--show-capture=log", "-v")
    got = options.terminal_options(config)
    assert got["no_header"] is True and got["no_summary"] is False
    assert got["color"] == "yes" and got["showcapture"] == "log"
    assert got["verbose"] == 1


def test_hello_carries_the_options_read_before_neutralising(pytester, pacer):
    def script(fake):
        hello = fake.expect("hello")
        assert hello["options"]["maxfail"] == 1
        assert hello["options"]["lf"] is True
        assert hello["junit"]["xmlpath"] == str(pytester.path / "r.xml")
        assert hello["terminal"]["verbose"] == 0
        assert hello["invocation_dir"] == str(pytester.path)
        fake.send("stop")
        fake.expect("bye")

    pacer(script, "-x", "--lf", "--junitxml=r.xml")


def test_xdists_own_popen_gateways_for_n_are_not_remote_workers(pytester):
    # xdist turns `-n 2` into two local `popen` gateways (`--tx`): pacer
    # must not say it ignores remote workers nobody asked for (issue 17).
    config = pytester.parseconfig("-n", "2")
    config.option.tx = ["popen", "popen"]
    assert options.pytest_options(config)["remote"] is False
    config.option.tx = ["ssh=build@host//python=python3"]
    assert options.pytest_options(config)["remote"] is True
    # Named by the user, even local gateways are not what pacer runs.
    config = pytester.parseconfig("--tx", "popen")
    assert options.pytest_options(config)["remote"] is True
    config = pytester.parseconfig("--rsyncdir", "src")
    assert options.pytest_options(config)["remote"] is True

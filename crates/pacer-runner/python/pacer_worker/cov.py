"""pytest-cov under pacer: each worker measures, pacer's controller combines.

Workers are "collocated" xdist workers to pytest-cov (`xdist.controller_input`):
each saves its data file, names it in its `bye` (`options`), and pacer runs
`controller_main` once after the run, which is the step pytest-cov's xdist
controller would take. The zygote measures nothing (`forget`); a worker
forked from it starts its own collector (`restart`).
"""

import json
import os
import sys


def keep_data_files(early_config):
    """Make pytest-cov append instead of erasing; returns the user's own
    `--cov-append`, or None when pytest-cov is not asked for.

    pytest-cov starts measuring in `pytest_load_initial_conftests`, and erases
    the data files of earlier runs unless `--cov-append`. A pacer worker may
    start when another has already saved its data (a replacement, an extra
    io worker), so workers never erase: pacer combines exactly the files its
    workers name in their `bye` and drops the old combined file itself
    (`controller_main`).
    """
    namespace = early_config.known_args_namespace
    if not getattr(namespace, "cov_source", None):
        return None
    given = bool(getattr(namespace, "cov_append", False))
    namespace.cov_append = True
    return given


def options(config, cov_append):
    """pytest-cov's options as this worker parsed them (after its config file
    filled `fail_under` and `precision`), when pytest-cov is loaded and was
    asked for: pacer then combines and reports as xdist's controller would.
    `cov_append` is what `keep_data_files` returned."""
    plugin = config.pluginmanager.get_plugin("_cov")
    parsed = getattr(plugin, "options", None)
    if parsed is None:
        return None
    wanted = {}
    for name, value in vars(parsed).items():
        if name.startswith(("cov_", "no_cov")):
            wanted[name] = value
    wanted["cov_append"] = cov_append if cov_append is not None else wanted.get("cov_append", False)
    wanted["collectonly"] = bool(config.getoption("collectonly", False))
    data_file = None
    controller = getattr(plugin, "cov_controller", None)
    cov = getattr(controller, "cov", None)
    if cov is not None and getattr(cov, "_data", None) is not None:
        data_file = cov.get_data().data_filename()
    return {"options": wanted, "data_file": data_file}


def forget(config):
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


def restart(config, nodeid):
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


def controller_main():
    """pytest-cov's controller side, run by pacer once after the workers ended
    (`python -c "import pacer_worker; pacer_worker.cov_controller_main()"`,
    which is this function).

    Reads `{"workers": [[id, workeroutput, cov]], "failed"}` as JSON on stdin
    (`cov` being what `options` gave: pytest-cov's options and the
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


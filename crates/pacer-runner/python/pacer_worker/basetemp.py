"""One base temporary folder per run, as pytest-xdist's controller makes it.

Plain pytest makes one numbered folder per run (`pytest-of-USER/pytest-N`,
the last three kept) and every `tmp_path` lives under it. xdist's controller
makes that folder once and hands each worker `basetemp/popen-gwN`. Left to
itself, each pacer worker would make its own numbered folder (a run would
leave as many `pytest-N` as workers, pushing the previous runs' out, and
the workers' concurrent clean-ups of old folders warn "(rm_rf) error
removing"), and under `--basetemp DIR` each would empty DIR while the others
write into it.

Here the first worker to configure makes the run's base folder exactly as
pytest does (`TempPathFactory.getbasetemp`: the numbered folder with its
clean-up, or the user's `--basetemp` emptied), under a lock in pacer's run
folder, and writes its path there; every worker, the first included, then
takes `base/popen-<its id>` as its `--basetemp`, as under xdist.
"""

import fcntl
import os
from pathlib import Path

# The run folder pacer makes for its workers (`PACER_RUN_DIR`); absent when
# an older pacer started the worker, and then nothing changes.
RUN_DIR = "PACER_RUN_DIR"


def share(config, worker_id):
    """Point this worker's `--basetemp` at `base/popen-<id>`. Called in
    `pytest_configure` before pytest's tmpdir plugin reads the option."""
    run_dir = os.environ.get(RUN_DIR)
    if not run_dir or not hasattr(config.option, "basetemp"):
        return
    base = _run_base(config, Path(run_dir))
    if base is not None:
        config.option.basetemp = str(base / ("popen-" + worker_id))


def rename(config, worker_id):
    """A worker forked from the zygote takes its own folder: the zygote's
    `TempPathFactory` (made in its `pytest_configure`) is the fork's, and
    wrappers such as `tmpdir_factory` hold it, so it is pointed, not made
    again."""
    current = getattr(config.option, "basetemp", None)
    if not os.environ.get(RUN_DIR) or not current:
        return
    folder = Path(current).parent / ("popen-" + worker_id)
    config.option.basetemp = str(folder)
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None and hasattr(factory, "_given_basetemp"):
        factory._given_basetemp = folder.resolve()
        factory._basetemp = None


def _run_base(config, run_dir):
    record = run_dir / "basetemp"
    try:
        lock = open(run_dir / "basetemp.lock", "a")
    except OSError:
        return None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return Path(record.read_text())
        except FileNotFoundError:
            pass
        from _pytest.tmpdir import TempPathFactory

        base = TempPathFactory.from_config(config, _ispytest=True).getbasetemp()
        record.write_text(str(base))
        return base

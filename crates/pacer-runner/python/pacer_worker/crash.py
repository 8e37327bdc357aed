"""Named fd-capture files, so that a crashed worker's output can be read;
stacks on demand, the parent-death signal and leaked children.

When a test kills its worker (os._exit, a segfault, the OOM killer), the
output it captured so far lives only in pytest's temporary files; naming
them (in ``PACER_CAPTURE_DIR``) lets pacer read them after the crash.
"""

import os
import sys

from .channel import wire


def install():
    """Make pytest's fd capture write to named files instead of unlinked ones,
    and arm the stack dump (`arm`).

    Runs when the plugin is imported, before pytest's capture starts.
    """
    arm()
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


# -- hangs, deaths and leaks ---------------------------------------------------
# pacer reads what these leave behind when a worker will not answer: a test
# past its timeout, a file hung at import, a worker that will not exit.

_stacks = []
# Child pid -> the node id of the test after which it was first seen (None:
# it was there before any test ran).
_children = {}


def arm():
    """In every worker (spawned, the zygote, each fork): SIGUSR1 makes
    faulthandler write every thread's stack to ``PACER_STACKS_FILE``."""
    path = os.environ.get("PACER_STACKS_FILE")
    if not path:
        return
    import faulthandler
    import signal

    try:
        stacks = open(path, "w")
    except OSError:
        return
    # faulthandler writes to the descriptor: the file must stay open.
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True, chain=False)
    for old in _stacks:
        old.close()
    _stacks[:] = [stacks]
    _children.clear()
    _children.update((pid, None) for pid in children())


def die_with_pacer():
    """A forked worker asks for SIGKILL when pacer dies (a spawned one asked
    before exec; fork clears the request). Asked once pacer is its parent:
    the signal would also fire when the middle process of the zygote's
    double fork exits."""
    pacer = os.environ.get("PACER_PID")
    if not pacer or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal
    import time

    pacer = int(pacer)
    deadline = time.monotonic() + 5
    while os.getppid() != pacer and time.monotonic() < deadline:
        time.sleep(0.001)
    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != pacer:
        os._exit(70)


def children():
    """This process's children (Linux; empty elsewhere)."""
    pids = set()
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return pids
    # Read after every test: raw descriptors cost a third of a file object.
    for tid in tids:
        try:
            fd = os.open("/proc/self/task/%s/children" % tid, os.O_RDONLY)
            try:
                data = os.read(fd, 65536)
            finally:
                os.close(fd)
            if data:
                pids.update(int(p) for p in data.split())
        except (OSError, ValueError):
            pass
    return pids


def note_children(nodeid):
    """After each test: a child first seen now is that test's."""
    if not _stacks:
        return
    for pid in children():
        _children.setdefault(pid, nodeid)


def _running(pid):
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] != "Z"


# Processes the standard library starts once and keeps for the interpreter's
# life: not a test's leak.
_PYTHON_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _command_line(pid):
    """The process's command line. Popen returns once the child's exec is
    past its point of no return (its close-on-exec pipe closed), before the
    kernel has set the new program's arguments: read then, the line is
    empty, so an empty one is read again for a little while."""
    import time

    deadline = time.monotonic() + 0.5
    while True:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                command = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            return "?"
        if command or time.monotonic() > deadline:
            return command
        time.sleep(0.01)


def end_leaks():
    """After the session's last teardown: each child a test started that is
    still running is a leak (nextest's word), ended with its process group
    when it has one of its own. Returns (node id, pid, command) for each."""
    import signal

    leaks = []
    for pid in sorted(children()):
        nodeid = _children.get(pid)
        if nodeid is None or not _running(pid):
            continue
        command = _command_line(pid)
        if any(helper in command for helper in _PYTHON_HELPERS):
            continue
        try:
            # The worker's own group holds pacer's worker: only a group of
            # the child's own is ended whole.
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        leaks.append((nodeid, pid, command[:200]))
    return leaks


def name_left_threads():
    """Names the non-daemon threads still running next to the stacks file,
    for pacer's warning should the worker then not exit."""
    import threading

    path = os.environ.get("PACER_STACKS_FILE")
    if not path:
        return
    left = [
        "%s (thread %s)" % (t.name, getattr(t, "native_id", t.ident))
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    try:
        with open(os.path.splitext(path)[0] + ".threads", "w") as f:
            f.write("".join(name + "\n" for name in left))
    except OSError:
        pass


class _CollectProgress:
    """Names the file being collected, next to the stacks file: pacer's
    collection deadline runs per file from its time, and names the file."""

    def __init__(self, path):
        self.path = path

    def pytest_collectstart(self, collector):
        import pytest

        if isinstance(collector, pytest.File):
            try:
                # As pacer names the file (a lone surrogate escaped).
                with open(self.path, "w", encoding="utf-8") as f:
                    f.write(wire(collector.nodeid))
            except OSError:
                pass


def watch_collection(config):
    path = os.environ.get("PACER_STACKS_FILE")
    if not path or config.pluginmanager.has_plugin("pacer-collect-progress"):
        return
    progress = _CollectProgress(os.path.splitext(path)[0] + ".collecting")
    config.pluginmanager.register(progress, "pacer-collect-progress")

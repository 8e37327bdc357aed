"""Stacks on demand, leaked children and threads left running, in this
process (Linux: /proc)."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pacer_worker import crash

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def armed(tmp_path, monkeypatch):
    stacks = tmp_path / "gw0.stacks"
    monkeypatch.setenv("PACER_STACKS_FILE", str(stacks))
    crash.arm()
    yield stacks
    import faulthandler

    faulthandler.unregister(signal.SIGUSR1)


def test_sigusr1_writes_every_thread(armed):
    done = threading.Event()
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.1)
    done.set()
    text = armed.read_text()
    assert text.count("(most recent call first)") >= 2
    assert "test_sigusr1_writes_every_thread" in text


def _exec_done(pid):
    """Popen returns once execve closed the error pipe, before the kernel has
    set the new image's arguments: /proc/PID/cmdline can still read empty."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if f.read():
                return
        time.sleep(0.01)


def test_a_child_started_by_a_test_and_left_running_is_ended_and_named(armed):
    child = subprocess.Popen(["sleep", "1000"])
    _exec_done(child.pid)
    crash.note_children("t.py::test_leaky")
    leaks = crash.end_leaks()
    assert [(nodeid, pid) for nodeid, pid, _ in leaks] == [("t.py::test_leaky", child.pid)]
    assert "sleep 1000" in leaks[0][2]
    assert not os.path.exists("/proc/%d" % child.pid)


def test_a_child_from_before_the_first_test_is_not_a_leak(tmp_path, monkeypatch):
    child = subprocess.Popen(["sleep", "1000"])
    try:
        monkeypatch.setenv("PACER_STACKS_FILE", str(tmp_path / "gw0.stacks"))
        crash.arm()
        crash.note_children("t.py::test_innocent")
        assert crash.end_leaks() == []
    finally:
        child.kill()
        child.wait()
        import faulthandler

        faulthandler.unregister(signal.SIGUSR1)


def test_threads_left_running_are_named_next_to_the_stacks(armed):
    done = threading.Event()
    thread = threading.Thread(target=done.wait, name="left-behind")
    thread.start()
    try:
        crash.name_left_threads()
    finally:
        done.set()
        thread.join()
    names = (armed.parent / "gw0.threads").read_text()
    assert names.startswith("left-behind (thread ")

"""A fake pacer for the plugin's tests: the other end of a socket pair,
talking to a real pytest session (`pytester`, in process) that loaded the
plugin with `PACER_FD` set."""

import json
import os
import socket
import threading

import pytest

from pacer_worker import worker as worker_module


class FakePacer:
    """pacer's side of the channel, driven by a test's script in a thread."""

    def __init__(self, sock):
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.seen = []

    def send(self, t, **fields):
        fields["t"] = t
        self.sock.sendall((json.dumps(fields) + "\n").encode())

    def recv(self):
        line = self.reader.readline()
        if not line:
            raise EOFError("the worker closed the channel; seen: %r" % [m["t"] for m in self.seen])
        msg = json.loads(line)
        self.seen.append(msg)
        return msg

    def expect(self, t):
        msg = self.recv()
        assert msg["t"] == t, "expected %r, got %r" % (t, msg)
        return msg

    def until(self, t):
        """Messages up to and including the first `t`."""
        got = []
        while True:
            msg = self.recv()
            got.append(msg)
            if msg["t"] == t:
                return got


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """What a worker changes for its whole process (it is one session there)
    is put back after each test: the environment and pytest's node-id rule."""
    from _pytest import nodes

    monkeypatch.setattr(nodes, "_check_initialpaths_for_relpath", nodes._check_initialpaths_for_relpath)
    monkeypatch.setattr(worker_module, "_current", None)
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def pacer(pytester, monkeypatch):
    """`pacer(script, *args)` runs pytest with the plugin and `args`, while
    `script(fake)` plays pacer in a thread; returns what the worker sent and
    pytest's hook recorder."""

    def run(script, *args):
        ours, theirs = socket.socketpair()
        ours.settimeout(10)
        # The worker's channel owns (and closes) its own descriptor.
        monkeypatch.setenv("PACER_FD", str(os.dup(theirs.fileno())))
        theirs.close()
        monkeypatch.setenv("PACER_WORKER_ID", "gw3")
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
        monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "run-uid")
        fake = FakePacer(ours)
        failure = []

        def play():
            try:
                script(fake)
            except BaseException as exc:  # reported by the test, below
                failure.append(exc)
                # Unblock a worker waiting for an answer that will not come.
                ours.shutdown(socket.SHUT_RDWR)

        thread = threading.Thread(target=play, daemon=True)
        thread.start()
        try:
            reprec = pytester.inline_run("-p", "pacer_worker", *args)
        finally:
            thread.join(10)
            ours.close()
        if failure:
            raise failure[0]
        assert not thread.is_alive(), "the fake pacer is still waiting; seen %r" % fake.seen
        return fake.seen, reprec

    return run

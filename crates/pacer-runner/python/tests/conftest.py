"""A fake pacer for the plugin's tests: the other end of a socket pair,
talking to a real pytest session (`pytester`, in process, or a subprocess)
that loaded the plugin with `PACER_FD` set. Every message either way is
checked against the wire's description (`protocol_json`)."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import pacer_worker
from pacer_worker import worker as worker_module
from pacer_worker.channel import Channel
from protocol_json import CONVERSATIONS, FROM_WORKER, SEEN, TO_WORKER, Received, problems

# The fixtures that hold a conversation with the real plugin.
CONVERSING = ("pacer", "spawn_worker")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Before any deselection: the conversation tests of the session; and
    the test that wants every described message among theirs goes last."""
    CONVERSATIONS["collected"].update(
        item.nodeid for item in items if set(CONVERSING) & set(getattr(item, "fixturenames", ()))
    )
    last = [item for item in items if item.name == "test_every_described_message_went_over_the_wire"]
    items[:] = [item for item in items if item not in last] + last


class FakePacer:
    """pacer's side of the channel, driven by a test's script in a thread."""

    def __init__(self, sock):
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.seen = []
        # The fake pacers of the workers this one (a zygote) forked.
        self.forks = []

    def send(self, t, **fields):
        self.sock.sendall(self._line(t, fields))

    def send_fds(self, fds, t, **fields):
        """A message with descriptors attached, as pacer sends `fork`."""
        socket.send_fds(self.sock, [self._line(t, fields)], fds)

    def fork(self, worker, env):
        """Ask the zygote to fork `worker`, as pacer does: the new worker's
        channel, stdout and stderr go with the message. Returns the fake
        pacer of the new worker's channel."""
        ours, theirs = socket.socketpair()
        ours.settimeout(self.sock.gettimeout())
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            self.send_fds([theirs.fileno(), devnull, devnull], "fork", worker=worker, env=env)
        finally:
            theirs.close()
            os.close(devnull)
        self.forks.append(FakePacer(ours))
        return self.forks[-1]

    def close(self):
        """Close this channel and those of the workers forked from it: a
        worker still waiting then reads the end of its channel and exits."""
        for fork in self.forks:
            fork.close()
        self.reader.close()
        self.sock.close()

    def _line(self, t, fields):
        fields["t"] = t
        wrong = problems(TO_WORKER, fields)
        assert not wrong, "pacer never sends %r (protocol.json): %s" % (fields, "; ".join(wrong))
        SEEN[TO_WORKER].add(t)
        return (json.dumps(fields) + "\n").encode()

    def recv(self):
        line = self.reader.readline()
        if not line:
            raise EOFError("the worker closed the channel; seen: %r" % [m["t"] for m in self.seen])
        msg = json.loads(line)
        self.seen.append(msg)
        wrong = problems(FROM_WORKER, msg)
        assert not wrong, "the plugin sent %r, not as protocol.json describes it: %s" % (msg, "; ".join(wrong))
        SEEN[FROM_WORKER].add(msg["t"])
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
def pacer(pytester, monkeypatch, request):
    """`pacer(script, *args)` runs pytest with the plugin and `args`, while
    `script(fake)` plays pacer in a thread; returns what the worker sent and
    pytest's hook recorder. The plugin may read only described fields of
    what pacer sends."""
    unknown = []
    line = Channel._line

    def described_line(channel):
        msg = line(channel)
        return None if msg is None else Received(msg, unknown)

    monkeypatch.setattr(Channel, "_line", described_line)

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
        assert not unknown, "the plugin reads fields pacer never sends (protocol.json): %s" % unknown
        CONVERSATIONS["finished"].add(request.node.nodeid)
        return fake.seen, reprec

    return run


@pytest.fixture
def spawn_worker(pytester, request):
    """`spawn_worker(script, *args, env={...})` starts `python -m pytest -p
    pacer_worker *args` in its own process, as pacer does (what the zygote
    does, forking, cannot happen inside this test's process), and plays
    pacer with `script(fake)`; returns what the worker sent and its output."""

    def run(script, *args, env=None):
        ours, theirs = socket.socketpair()
        ours.settimeout(20)
        package = str(Path(pacer_worker.__file__).resolve().parents[1])
        # Nothing of a pacer this test suite may itself run under.
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PACER_")}
        environ.update(
            {
                "PACER_FD": str(theirs.fileno()),
                "PACER_WORKER_ID": "gw0",
                "PYTEST_XDIST_WORKER_COUNT": "2",
                "PYTEST_XDIST_TESTRUNUID": "run-uid",
                "PYTHONPATH": os.pathsep.join(filter(None, [package, environ.get("PYTHONPATH")])),
            }
        )
        environ.update(env or {})
        command = [sys.executable, "-m", "pytest", "-p", "pacer_worker", "-p", "no:cacheprovider", *args]
        log = pytester.path / "worker-output.txt"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command,
                cwd=str(pytester.path),
                env=environ,
                pass_fds=[theirs.fileno()],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        theirs.close()
        fake = FakePacer(ours)
        try:
            script(fake)
            code = process.wait(timeout=20)
        except BaseException:
            process.kill()
            process.wait()
            print("the worker's output:\n" + log.read_text(errors="replace"))
            raise
        finally:
            fake.close()
        output = log.read_text(errors="replace")
        assert code == 0, output
        CONVERSATIONS["finished"].add(request.node.nodeid)
        return fake.seen, output

    return run

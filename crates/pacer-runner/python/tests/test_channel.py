"""The channel's framing, over a real socket pair."""

import json
import os
import socket
from pathlib import Path

import pytest

from pacer_worker.channel import Channel


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    channel = Channel(os.dup(theirs.fileno()))
    theirs.close()
    yield channel, ours
    channel.close()
    ours.close()


def lines(sock):
    data = b""
    while not data.endswith(b"\n"):
        data += sock.recv(65536)
    return data.decode("utf-8").splitlines()


def test_send_writes_one_compact_json_object_per_line(pair):
    channel, ours = pair
    channel.send({"t": "start", "id": "test_a.py::test_é"})
    assert lines(ours) == ['{"t":"start","id":"test_a.py::test_é"}']


def test_a_lone_surrogate_arrives_as_the_text_of_its_escape(pair):
    # os.listdir's name for bytes that are not UTF-8: a strict JSON reader
    # refuses it raw or escaped, so pacer gets `\udce9` as text.
    import json

    from pacer_worker.channel import unwire, wire

    channel, ours = pair
    nodeid = b"test_caf\xe9.py::test_x".decode("utf-8", "surrogateescape")
    channel.send({"t": "start", "id": nodeid, "reason": "\ud800 alone"})
    (line,) = lines(ours)
    msg = json.loads(line)
    assert msg["id"] == "test_caf\\udce9.py::test_x" == wire(nodeid)
    assert msg["reason"] == "\\ud800 alone"
    assert unwire(msg["id"]) == nodeid


def test_held_messages_leave_with_the_next_one_in_one_write(pair):
    channel, ours = pair
    channel.hold({"t": "done", "id": "a", "reports": []})
    ours.setblocking(False)
    with pytest.raises(BlockingIOError):
        ours.recv(1)
    ours.setblocking(True)
    ours.settimeout(5)
    channel.send({"t": "start", "id": "b"})
    # One write: both lines are there at once.
    data = ours.recv(65536).decode()
    assert [json.loads(line)["t"] for line in data.splitlines()] == ["done", "start"]


def test_recv_flushes_what_is_held_before_it_waits(pair):
    channel, ours = pair
    channel.hold({"t": "done", "id": "a", "reports": []})
    ours.sendall(b'{"t":"idle"}\n')
    assert channel.recv() == {"t": "idle"}
    assert json.loads(lines(ours)[0])["t"] == "done"


def test_recv_reads_messages_that_arrived_together_one_by_one(pair):
    channel, ours = pair
    ours.sendall(b'{"t":"run","tests":["a"]}\n{"t":"stop"}\n')
    assert channel.recv()["t"] == "run"
    assert channel.recv()["t"] == "stop"


def test_values_json_does_not_know_are_sent_as_text(pair):
    channel, ours = pair
    channel.send({"t": "bye", "path": Path("/tmp/x")})
    assert json.loads(lines(ours)[0]) == {"t": "bye", "path": "/tmp/x"}


def test_a_closed_channel_is_an_eof_error(pair):
    channel, ours = pair
    ours.close()
    with pytest.raises(EOFError):
        channel.recv()

"""The plugin against the wire's one description (`protocol.json`; Rust's
side: `src/protocol/spec.rs`). The fake pacer checks every message of every
conversation test as it passes (`conftest.py`). Here: the version, the
messages the plugin handles, the conversations no other test holds (a usage
error, `pytest.exit()`, the zygote), and that together they sent and read
every described message."""

import pytest

from pacer_worker import worker, zygote
from pacer_worker.channel import PROTOCOL
from protocol_json import CONVERSATIONS, FROM_WORKER, SEEN, SPEC, TO_WORKER, problems


def test_the_description_is_this_protocol():
    assert SPEC["protocol"] == PROTOCOL
    assert SPEC["tag"] == "t"


def test_the_plugin_handles_every_message_pacer_sends_and_no_other():
    # The worker's table, and the zygote's own reading (`fork` carries
    # descriptors).
    assert set(worker.MESSAGES) | set(zygote.MESSAGES) == set(SPEC[TO_WORKER])


def test_a_message_not_as_described_is_named():
    assert problems(FROM_WORKER, {"t": "start", "id": "t.py::a"}) == []
    assert problems(FROM_WORKER, {"t": "start", "id": "t.py::a", "at": 1}) == ["start.at is not described"]
    assert problems(FROM_WORKER, {"t": "start"}) == ["start.id is required and missing"]
    assert problems(FROM_WORKER, {"t": "ping"}) == ["'ping' is not a from_worker message"]
    assert problems(TO_WORKER, {"t": "start", "id": "t.py::a"}) == ["'start' is not a to_worker message"]
    report = {"when": "later", "outcome": "passed", "cat": "", "word": "", "dur": 0, "loc": ["t.py", None]}
    assert problems(FROM_WORKER, {"t": "done", "id": "t.py::a", "reports": [report]}) == [
        'done.reports[0].when: \'later\' is not a ["enum", "setup", "call", "teardown"]'
    ]
    report.update(when="call", loc=["t.py", "1"], skip=["t.py", 1])
    assert problems(FROM_WORKER, {"t": "done", "id": "t.py::a", "reports": [report]}) == [
        "done.reports[0].loc[1]: '1' is not a \"int\"",
        'done.reports[0].skip: [\'t.py\', 1] is not a ["tuple", "str", ["nullable", "int"], "str"]',
    ]


def test_a_usage_error_is_sent_as_one(pytester, pacer):
    def script(fake):
        fake.expect("hello")
        fake.send("discover")
        assert "nowhere.py" in fake.expect("usage_error")["message"]
        fake.send("stop")
        fake.expect("bye")

    pacer(script, "nowhere.py")


def test_pytest_exit_in_a_test_is_sent_before_the_session_ends(pytester, pacer):
    pytester.makepyfile(test_x="import pytest\n\ndef test_enough():\n    pytest.exit('enough', returncode=3)\n")

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_x.py")])
        fake.expect("collected")
        fake.send("run", tests=["test_x.py::test_enough"], units=[], env=[])
        fake.until("need")
        fake.send("idle")
        ended = fake.until("exit")[-1]
        assert (ended["id"], ended["message"], ended["returncode"]) == ("test_x.py::test_enough", "enough", 3)

    _seen, reprec = pacer(script)
    assert reprec.ret == 3


def test_the_zygote_forks_workers_holding_the_whole_collection(pytester, spawn_worker):
    pytester.makepyfile(test_z="def test_one(): pass\ndef test_two(): pass\n")
    ids = ["test_z.py::test_one", "test_z.py::test_two"]

    def script(zygote):
        zygote.expect("hello")
        zygote.send("collect_all", ignore=[])
        assert [entry[0] for entry in zygote.expect("collected")["items"]] == ids
        zygote.send("serve")
        ready = zygote.expect("hello_zygote")
        forked_worker = zygote.fork("gw1", env=[["PACER_WORKER_ID", "gw1"]])
        forked = zygote.expect("forked")
        assert forked["worker"] == "gw1" and forked["pid"] != ready["pid"]
        hello = forked_worker.expect("hello")
        assert (hello["worker"], hello["pid"], hello["whole"]) == ("gw1", forked["pid"], True)
        forked_worker.send("run", tests=ids, units=[], env=[])
        while not (forked_worker.seen[-1]["t"] == "done" and forked_worker.seen[-1]["id"] == ids[-1]):
            if forked_worker.recv()["t"] == "need":
                forked_worker.send("idle")
        forked_worker.send("stop")
        forked_worker.until("bye")
        forked_worker.close()
        zygote.send("stop")
        zygote.until("bye")

    seen, _output = spawn_worker(script)
    assert [m["t"] for m in seen][:4] == ["hello", "collected", "hello_zygote", "forked"]


def test_every_described_message_went_over_the_wire():
    """Last (`conftest.py` puts it there): the conversation tests together
    had the real plugin send every described `from_worker` message and read
    every `to_worker` one, each checked on the way."""
    collected, finished = CONVERSATIONS["collected"], CONVERSATIONS["finished"]
    files = {nodeid.split("::")[0].rsplit("/", 1)[-1] for nodeid in collected}
    if not {"test_conversation.py", "test_protocol.py"} <= files or not collected <= finished:
        pytest.skip("wants every conversation test of the plugin's suite run and passed first")
    for direction in (FROM_WORKER, TO_WORKER):
        missing = sorted(set(SPEC[direction]) - SEEN[direction])
        assert not missing, "%s messages no conversation test exchanged: %s" % (direction, missing)

"""The whole conversation, against a real pytest session: discover, collect,
run, need, idle, stop, bye; what pacer sees is what the worker sent."""

import pytest

from pacer_worker.channel import PROTOCOL

SUITE = {
    "test_a": """
        def test_one(): pass
        def test_two(): assert 1 == 2
        def test_three(): pass
    """,
    "test_b": """
        import pytest

        @pytest.mark.skip(reason="not today")
        def test_skipped(): pass
    """,
}

A = ["test_a.py::test_one", "test_a.py::test_two", "test_a.py::test_three"]
B = ["test_b.py::test_skipped"]


def outcomes(seen):
    """{test id: [(phase, outcome)]} from the `done` messages."""
    return {
        msg["id"]: [(r["when"], r["outcome"]) for r in msg["reports"]]
        for msg in seen
        if msg["t"] == "done"
    }


def test_discover_collect_run_need_idle_stop(pytester, pacer):
    pytester.makepyfile(**SUITE)
    a_path = str(pytester.path / "test_a.py")

    def script(fake):
        hello = fake.expect("hello")
        assert hello["protocol"] == PROTOCOL
        assert hello["worker"] == "gw3"
        assert hello["rootdir"] == str(pytester.path)
        fake.send("discover")
        units = fake.expect("discovered")["units"]
        assert [(u["id"], u["size"] > 0) for u in units] == [("test_a.py", True), ("test_b.py", True)]
        fake.send("collect", units=[a_path])
        collected = fake.expect("collected")
        assert [entry[0] for entry in collected["items"]] == A
        assert collected["problems"] == [] and collected["deselected"] == 0
        fake.send("run", tests=A, units=[], env=[["PACER_TEST_ENV", "1"]])
        # Two tests left: the worker asks for more before the last one.
        assert [m["t"] for m in fake.until("need")] == ["start", "done", "need"]
        # The answer names a file it has not collected yet: it collects it.
        fake.send("run", tests=B, units=[str(pytester.path / "test_b.py")], env=[])
        fake.until("need")
        fake.send("idle")
        # The answer may have been read early, between tests: A's last test
        # may be reported first. A worker told `idle` that still holds one
        # test asks again before it (the answer is its real next item), as
        # often as pacer says `idle`: pacer answers every `need`.
        while not (fake.seen[-1]["t"] == "done" and fake.seen[-1]["id"] == B[0]):
            if fake.recv()["t"] == "need":
                fake.send("idle")
        fake.send("stop")
        fake.expect("bye")

    seen, _ = pacer(script)
    assert [m["id"] for m in seen if m["t"] == "start"] == A + B
    assert outcomes(seen) == {
        A[0]: [("call", "passed")],
        A[1]: [("call", "failed")],
        A[2]: [("call", "passed")],
        B[0]: [("setup", "skipped")],
    }
    failed = next(m for m in seen if m["t"] == "done" and m["id"] == A[1])["reports"][0]
    assert failed["cat"] == "failed" and "assert 1 == 2" in failed["longrepr"]
    assert failed["msg"] == "assert 1 == 2"
    # The annotation's place: the failing assert, in the project's file, 1-based.
    assert failed["at"] == ["test_a.py", 2]
    skipped = next(m for m in seen if m["t"] == "done" and m["id"] == B[0])["reports"][0]
    assert skipped["skip"] == ["test_b.py", 3, "Skipped: not today"]


def test_stop_while_waiting_drops_the_queue_and_tears_down_late(pytester, pacer):
    pytester.makepyfile(
        test_c="""
        import pytest

        @pytest.fixture(scope="module")
        def resource():
            yield
            raise RuntimeError("teardown broke")

        def test_1(resource): pass
        def test_2(resource): pass
        def test_3(resource): pass
        """
    )
    ids = ["test_c.py::test_1", "test_c.py::test_2", "test_c.py::test_3"]

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_c.py")])
        fake.expect("collected")
        fake.send("run", tests=ids, units=[], env=[])
        fake.until("need")
        fake.send("stop")
        fake.until("bye")

    seen, _ = pacer(script)
    assert [m["id"] for m in seen if m["t"] == "start"] == ids[:2]
    late = next(m for m in seen if m["t"] == "late")
    assert late["id"] == ids[1]
    assert [(r["when"], r["outcome"]) for r in late["reports"]] == [("teardown", "failed")]
    assert "teardown broke" in late["reports"][0]["longrepr"]


def test_tests_it_never_collected_are_named_missing(pytester, pacer):
    pytester.makepyfile(test_d="def test_here(): pass")

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_d.py")])
        fake.expect("collected")
        fake.send("run", tests=["test_d.py::test_gone", "test_d.py::test_here"], units=[], env=[])
        assert fake.expect("missing")["ids"] == ["test_d.py::test_gone"]
        fake.until("need")
        fake.send("idle")
        fake.until("done")
        fake.send("stop")
        fake.expect("bye")

    seen, _ = pacer(script)
    assert [m["id"] for m in seen if m["t"] == "start"] == ["test_d.py::test_here"]


def test_collection_problems_and_deselections_come_with_collected(pytester, pacer):
    pytester.makepyfile(
        test_e="""
        def test_keep(): pass
        def test_drop(): pass
        """,
        test_broken="import nowhere_to_be_found",
    )

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_e.py"), str(pytester.path / "test_broken.py")])
        collected = fake.expect("collected")
        assert [entry[0] for entry in collected["items"]] == ["test_e.py::test_keep"]
        assert collected["deselected"] == 1
        # Sent only under --lf.
        assert collected["deselected_ids"] == []
        [problem] = collected["problems"]
        assert problem["id"] == "test_broken.py" and problem["outcome"] == "failed"
        assert "nowhere_to_be_found" in problem["longrepr"]
        fake.send("stop")
        fake.expect("bye")

    pacer(script, "-k", "keep")


def test_discovery_imports_nothing_and_lists_a_file_once(pytester, pacer):
    pytester.makepyfile(
        test_f='''
        raise SystemExit("imported during discovery")

        def helper():
            """
            >>> 1
            1
            """
        '''
    )

    def script(fake):
        fake.expect("hello")
        fake.send("discover")
        assert [u["id"] for u in fake.expect("discovered")["units"]] == ["test_f.py"]
        fake.send("stop")
        fake.expect("bye")

    pacer(script, "--doctest-modules")


def test_node_ids_on_the_command_line_are_units_as_given(pytester, pacer):
    pytester.makepyfile(test_g="def test_x(): pass")

    def script(fake):
        fake.expect("hello")
        fake.send("discover")
        assert fake.expect("discovered")["units"] == [
            {"arg": "test_g.py::test_x", "id": "test_g.py::test_x", "size": 0}
        ]
        fake.send("stop")
        fake.expect("bye")

    pacer(script, "test_g.py::test_x")


def test_warnings_are_sent_with_their_test(pytester, pacer):
    pytester.makepyfile(
        test_w="""
        import warnings

        def test_warns():
            warnings.warn(UserWarning("careful"))
        """
    )

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_w.py")])
        fake.expect("collected")
        fake.send("run", tests=["test_w.py::test_warns"], units=[], env=[])
        fake.until("need")
        fake.send("idle")
        fake.until("done")
        fake.send("stop")
        fake.expect("bye")

    seen, _ = pacer(script)
    [warning] = [m for m in seen if m["t"] == "warning"]
    assert warning["id"] == "test_w.py::test_warns" and warning["when"] == "runtest"
    assert "UserWarning: careful" in warning["message"]


def test_live_log_records_go_with_their_phase(pytester, pacer):
    pytester.makepyfile(
        test_l="""
        import logging

        def test_logs():
            logging.getLogger("app").warning("hello from the call")
        """
    )

    def script(fake):
        assert fake.expect("hello")["log_cli"] is True
        fake.send("collect", units=[str(pytester.path / "test_l.py")])
        fake.expect("collected")
        fake.send("run", tests=["test_l.py::test_logs"], units=[], env=[])
        fake.until("need")
        fake.send("idle")
        fake.until("done")
        fake.send("stop")
        fake.expect("bye")

    seen, _ = pacer(script, "-o", "log_cli=true", "-o", "log_cli_format=%(levelname)s %(message)s")
    [done] = [m for m in seen if m["t"] == "done"]
    call = next(r for r in done["reports"] if r["when"] == "call")
    assert call["live_log"] == "WARNING hello from the call"


@pytest.mark.parametrize(
    "order, waiting, error",
    [
        ({"t": "shout"}, False, "unknown message 'shout'"),
        ({"t": "idle"}, False, "unexpected 'idle' unasked"),
        ({"t": "collect", "units": []}, True, "unexpected 'collect' while waiting"),
        ({"t": "discover"}, True, "unexpected 'discover' while waiting"),
    ],
)
def test_a_message_out_of_turn_is_an_error(order, waiting, error):
    import os
    import socket

    from pacer_worker.channel import Channel
    from pacer_worker.worker import Worker

    class Config:
        def getoption(self, name, default=None):
            return default

    ours, theirs = socket.socketpair()
    worker = Worker(Config(), Channel(os.dup(theirs.fileno())), {}, {}, None, None)
    worker.asked = waiting
    with pytest.raises(RuntimeError, match=error):
        worker.dispatch(order)
    worker.channel.close()
    ours.close()
    theirs.close()


def test_the_message_table_says_when_each_message_may_come():
    from pacer_worker.worker import MESSAGES

    # Which messages may come when: (as an order, while the worker waits for
    # the answer to `need`, is that answer).
    assert {tag: entry[1:] for tag, entry in MESSAGES.items()} == {
        "discover": (True, False, True),
        "collect": (True, False, True),
        "collect_all": (True, False, True),
        "select": (True, False, False),
        "serve": (True, False, True),
        "run": (True, True, True),
        "idle": (False, True, True),
        "stop": (True, True, True),
        "unqueue": (True, True, False),
    }


def test_unqueue_gives_back_tests_not_started_but_keeps_the_next_one(pytester, pacer):
    # The first test waits until pacer has sent `unqueue`, so the order is
    # read between tests, with three still queued.
    flag = pytester.path / "unqueue-sent"
    pytester.makepyfile(
        test_q=(
            "import pathlib, time\n"
            "def test_0():\n"
            "    for _ in range(500):\n"
            "        if pathlib.Path(%r).exists():\n"
            "            return\n"
            "        time.sleep(0.01)\n"
            "def test_1(): pass\n"
            "def test_2(): pass\n"
            "def test_3(): pass\n"
        )
        % str(flag)
    )
    ids = ["test_q.py::test_%d" % i for i in range(4)]

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_q.py")])
        fake.expect("collected")
        fake.send("run", tests=ids, units=[], env=[])
        fake.expect("start")
        # test_1 is the next item of test_0: it stays, even when asked for.
        fake.send("unqueue", tests=ids[1:])
        flag.write_text("")
        given = fake.until("unqueued")[-1]
        assert given["ids"] == ids[2:]
        fake.until("need")
        fake.send("idle")
        fake.until("done")
        assert fake.seen[-1]["id"] == ids[1]
        # With nothing queued, an unqueue is answered with nothing.
        fake.send("unqueue", tests=ids[2:])
        assert fake.expect("unqueued")["ids"] == []
        fake.send("stop")
        fake.expect("bye")

    seen, _ = pacer(script)
    assert [m["id"] for m in seen if m["t"] == "start"] == ids[:2]


def test_durations_send_every_phase_and_xunit1_the_location(pytester, pacer):
    pytester.makepyfile(test_m="def test_quick(): print('out')")

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_m.py")])
        fake.expect("collected")
        fake.send("run", tests=["test_m.py::test_quick"], units=[], env=[])
        fake.until("need")
        fake.send("idle")
        fake.until("done")
        fake.send("stop")
        fake.expect("bye")

    seen, _ = pacer(script, "--durations=0", "--junitxml=r.xml", "-o", "junit_family=xunit1", "-rP")
    [done] = [m for m in seen if m["t"] == "done"]
    assert [r["when"] for r in done["reports"]] == ["setup", "call", "teardown"]
    call = done["reports"][1]
    assert call["loc"] == ["test_m.py", 0]
    # -rP: a passing test's captured output, for the PASSES section.
    assert call["sections"] == [["Captured stdout call", "out\n"]]
    assert "loc" not in done["reports"][0]
    # The worker never writes the JUnit file: pacer does.
    assert not (pytester.path / "r.xml").exists()


ORDERED = {
    "conftest": """
        import pytest

        def pytest_collection_modifyitems(items):
            items.sort(key=lambda item: item.get_closest_marker("late") is not None)

        @pytest.fixture(scope="session")
        def seen(request):
            return [item.nodeid for item in request.session.items]
    """,
    "test_a": """
        import pytest

        def test_one(seen): assert seen == EXPECTED
        @pytest.mark.late
        def test_two(seen): assert seen == EXPECTED
        def test_three(seen): assert seen == EXPECTED
    """,
    "test_b": """
        def test_four(seen): assert seen == EXPECTED
    """,
}


def test_discovery_says_why_the_whole_collection_is_needed_and_collect_all_keeps_the_hooks_order(pytester, pacer):
    # Every test asserts the whole selection in session.items, pytest's
    # final order, after pacer's own deselection (`select`).
    final = ["test_a.py::test_one", "test_a.py::test_three", "test_b.py::test_four", "test_a.py::test_two"]
    kept = [nodeid for nodeid in final if nodeid != "test_b.py::test_four"]
    files = {
        name: source.replace("EXPECTED", repr(kept)) for name, source in ORDERED.items()
    }
    pytester.makeini("[pytest]\nmarkers = late")
    pytester.makepyfile(**files)

    def script(fake):
        fake.expect("hello")
        fake.send("discover")
        discovered = fake.expect("discovered")
        assert discovered["whole"] == "conftest.py implements pytest_collection_modifyitems"
        fake.send("collect_all", ignore=[])
        collected = fake.expect("collected")
        assert collected["whole"] is True
        assert [entry[0] for entry in collected["items"]] == final
        assert collected["ordered"] == "conftest.py"
        fake.send("select", deselect=["test_b.py::test_four"])
        fake.send("run", tests=kept, units=[], env=[])
        while not (fake.seen[-1]["t"] == "done" and fake.seen[-1]["id"] == kept[-1]):
            if fake.recv()["t"] == "need":
                fake.send("idle")
        fake.send("stop")
        fake.until("bye")

    seen, _ = pacer(script)
    assert outcomes(seen) == {nodeid: [("call", "passed")] for nodeid in kept}


def test_done_carries_the_tests_wall_cpu_and_queued_seconds(pytester, pacer):
    pytester.makepyfile(
        test_w="""
        import time

        def test_sleeps(): time.sleep(0.2)

        def test_computes():
            end = time.process_time() + 0.1
            while time.process_time() < end:
                pass
        """
    )
    ids = ["test_w.py::test_sleeps", "test_w.py::test_computes"]

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_w.py")])
        fake.expect("collected")
        fake.send("run", tests=ids, units=[], env=[])
        fake.until("need")
        fake.send("idle")
        while sum(m["t"] == "done" for m in fake.seen) < 2:
            if fake.recv()["t"] == "need":
                fake.send("idle")
        fake.send("stop")
        fake.until("bye")

    seen, _ = pacer(script)
    done = {m["id"]: m for m in seen if m["t"] == "done"}
    sleeps, computes = done[ids[0]], done[ids[1]]
    assert sleeps["wall"] >= 0.2 and sleeps["cpu"] < sleeps["wall"] / 2, sleeps
    assert computes["cpu"] >= 0.1 and computes["queued"] >= 0, computes

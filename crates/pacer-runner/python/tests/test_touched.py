"""`touched`: what each test leaves behind, traced only when pacer sets
PACER_TRACE_TOUCHED=1. A real worker in its own process (the audit hook
it installs cannot be removed, so never in this one), and the pure parts."""

import os

from pacer_worker import touched

SUITE = {
    "projmod": """
        COUNT = 0
        ITEMS = []
        KEPT = {"a": 1}
    """,
    "test_t": """
        import os
        import socket

        import projmod

        def test_env():
            os.environ["LEFT_BEHIND"] = "1"
            os.environ.pop("REMOVED_BY_TEST", None)

        def test_file():
            with open("shared.txt", "w") as f:
                f.write("x")

        def test_port():
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.close()
            with open("port.txt.tmp", "w"):
                pass
            os.remove("port.txt.tmp")
            projmod.PORT_SEEN = port

        def test_globals():
            projmod.COUNT += 1
            projmod.ITEMS.append(1)

        def test_clean(tmp_path, monkeypatch, capfd):
            monkeypatch.setenv("TEMPORARY", "1")
            (tmp_path / "mine.txt").write_text("x")
            print("out")
            assert projmod.KEPT == {"a": 1}
    """,
}
IDS = ["test_t.py::test_" + n for n in ("env", "file", "port", "globals", "clean")]


def run_all(pytester, spawn_worker, env):
    pytester.makepyfile(**SUITE)

    def script(fake):
        fake.expect("hello")
        fake.send("collect", units=[str(pytester.path / "test_t.py")])
        fake.expect("collected")
        fake.send("run", tests=IDS, units=[], env=[])
        while not (fake.seen[-1]["t"] == "done" and fake.seen[-1]["id"] == IDS[-1]):
            if fake.recv()["t"] == "need":
                fake.send("idle")
        fake.send("stop")
        fake.until("bye")

    seen, _output = spawn_worker(script, env=env)
    return {m["id"]: m.get("touched") for m in seen if m["t"] == "done"}


def test_each_test_is_charged_what_it_left_behind(pytester, spawn_worker):
    done = run_all(pytester, spawn_worker, {"PACER_TRACE_TOUCHED": "1", "REMOVED_BY_TEST": "x"})
    assert done["test_t.py::test_env"] == {"env": ["LEFT_BEHIND", "REMOVED_BY_TEST"]}
    assert done["test_t.py::test_file"] == {"files": ["shared.txt"]}
    port = done["test_t.py::test_port"]
    assert port["files"] == ["port.txt.tmp"]
    assert len(port["ports"]) == 1 and port["ports"][0] > 0
    # A name added to a project module is a change of it too.
    assert port["globals"] == ["projmod.PORT_SEEN"]
    assert done["test_t.py::test_globals"] == {"globals": ["projmod.COUNT", "projmod.ITEMS"]}
    # monkeypatch, tmp_path and capture undo or isolate what they touch.
    assert done["test_t.py::test_clean"] is None


def test_nothing_is_traced_unless_pacer_asks(pytester, spawn_worker):
    done = run_all(pytester, spawn_worker, {})
    assert set(done) == set(IDS)
    assert all(value is None for value in done.values())


def test_enabled_takes_only_1():
    assert touched.enabled({"PACER_TRACE_TOUCHED": "1"})
    assert not touched.enabled({"PACER_TRACE_TOUCHED": "0"})
    assert not touched.enabled({})


def test_changed_env_ignores_pytests_own_variable():
    before = {"A": "1", "B": "2", "PYTEST_CURRENT_TEST": "x"}
    after = {"A": "1", "B": "3", "C": "4"}
    assert touched.changed_env(before, after) == ["B", "C"]


def test_globals_changed_rebound_or_mutated_but_not_modules_imported_during_the_test():
    items = []
    before = {("m", "ITEMS"): touched.fingerprint(items), ("m", "N"): touched.fingerprint(1)}
    items.append(1)
    after = {
        ("m", "ITEMS"): touched.fingerprint(items),
        ("m", "N"): touched.fingerprint(1),
        ("new", "X"): touched.fingerprint(2),
    }
    assert touched.changed_globals(before, after) == ["m.ITEMS"]
    # Rebinding a function is a change; the same one is not.
    assert touched.fingerprint(os.getcwd) == touched.fingerprint(os.getcwd)
    assert touched.fingerprint(os.getcwd) != touched.fingerprint(os.getpid)

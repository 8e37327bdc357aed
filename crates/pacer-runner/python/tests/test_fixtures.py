"""The plugin under plain pytest: its fixtures work, its hooks stay out."""


def test_fixtures_outside_pacer(pytester, monkeypatch):
    monkeypatch.delenv("PACER_FD", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)
    monkeypatch.setenv("PACER_UPSTREAM_MY_API", "http://127.0.0.1:9/")
    pytester.makepyfile(
        """
        import hashlib

        def test_ids(worker_id, testrun_uid, test_prefix):
            assert (worker_id, testrun_uid) == ("master", "local")
            assert test_prefix == "t" + hashlib.sha1(b"local").hexdigest()[:6] + "master"

        def test_upstream(pacer_upstream):
            assert pacer_upstream("my-api") == "http://127.0.0.1:9/"

        def test_unknown_upstream(pacer_upstream):
            pacer_upstream("nowhere")
        """
    )
    result = pytester.runpytest("-p", "pacer_worker", "-p", "no:xdist", "-rf")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*no upstream named 'nowhere': PACER_UPSTREAM_NOWHERE is not set (declare it under*"]
    )


def test_under_pacer_the_variable_is_the_one_pacer_named(pytester, monkeypatch):
    # pacer's map wins over the plugin's own rule: the variable here is one
    # the rule would never build.
    monkeypatch.setenv("PACER_UPSTREAMS", '{"my-api": "PACER_UPSTREAM_FROM_PACER"}')
    monkeypatch.setenv("PACER_UPSTREAM_FROM_PACER", "http://127.0.0.1:7/")
    monkeypatch.setenv("PACER_UPSTREAM_MY_API", "http://127.0.0.1:9/")
    monkeypatch.setenv("PACER_UPSTREAM_BY_HAND", "http://127.0.0.1:8/")
    pytester.makepyfile(
        """
        def test_upstream(pacer_upstream):
            assert pacer_upstream("my-api") == "http://127.0.0.1:7/"

        def test_exported_by_hand(pacer_upstream):
            assert pacer_upstream("by-hand") == "http://127.0.0.1:8/"
        """
    )
    result = pytester.runpytest("-p", "pacer_worker", "-p", "no:xdist")
    result.assert_outcomes(passed=2)


def test_http_client_fixtures_get_timeouts_from_max_wait(pytester, monkeypatch):
    monkeypatch.setenv("PACER_UPSTREAM_MY_API", "http://127.0.0.1:9/")
    monkeypatch.setenv("PACER_UPSTREAM_MY_API_MAX_WAIT", "30")
    monkeypatch.setenv("PACER_UPSTREAM_OTHER", "http://127.0.0.1:9/")
    monkeypatch.delenv("PACER_UPSTREAM_OTHER_MAX_WAIT", raising=False)
    pytester.makepyfile(
        """
        def test_requests(pacer_requests, monkeypatch):
            import requests
            seen = []
            monkeypatch.setattr(
                requests.Session, "request",
                lambda self, method, url, *a, **kw: seen.append((url, kw["timeout"])),
            )
            pacer_requests("my-api").get("/x")
            pacer_requests("other").get("/y")
            pacer_requests("other").get("/z", timeout=3)
            assert seen == [
                ("http://127.0.0.1:9/x", (10.0, 40.0)),
                ("http://127.0.0.1:9/y", (10.0, 130.0)),
                ("http://127.0.0.1:9/z", 3),
            ]

        def test_httpx(pacer_httpx):
            import httpx
            t = pacer_httpx("my-api").timeout
            assert (t.connect, t.read) == (10.0, 40.0)
            assert pacer_httpx("other", timeout=2).timeout == httpx.Timeout(2)
        """
    )
    result = pytester.runpytest("-p", "pacer_worker", "-p", "no:xdist")
    result.assert_outcomes(passed=2)


def test_outside_pacer_the_rule_is_pacers():
    # The examples of `env_var_name`'s test in pacer-limiter (rate_limit.rs).
    from pacer_worker.fixtures import upstream_variable

    assert upstream_variable("ofsc", environ={}) == "PACER_UPSTREAM_OFSC"
    assert upstream_variable("my-api", environ={}) == "PACER_UPSTREAM_MY_API"
    assert upstream_variable("a.b 2", environ={}) == "PACER_UPSTREAM_A_B_2"
    assert upstream_variable("é", environ={}) == "PACER_UPSTREAM__"

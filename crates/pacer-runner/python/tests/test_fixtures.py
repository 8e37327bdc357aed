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


def test_outside_pacer_the_rule_is_pacers():
    # The examples of `env_var_name`'s test in pacer-limiter (rate_limit.rs).
    from pacer_worker.fixtures import upstream_variable

    assert upstream_variable("ofsc", environ={}) == "PACER_UPSTREAM_OFSC"
    assert upstream_variable("my-api", environ={}) == "PACER_UPSTREAM_MY_API"
    assert upstream_variable("a.b 2", environ={}) == "PACER_UPSTREAM_A_B_2"
    assert upstream_variable("é", environ={}) == "PACER_UPSTREAM__"

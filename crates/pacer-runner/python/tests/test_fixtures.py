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

"""Fixtures for the user's tests, under pacer and under plain pytest alike.

`worker_id` and `testrun_uid` carry pytest-xdist's names and meaning, for
suites written for it; the others name per-run resources and reach live
APIs through pacer's rate-limiting proxies.
"""

import hashlib
import json
import os

import pytest


@pytest.fixture(scope="session")
def worker_id(request):
    """The worker's id (gw0, gw1, ...), as pytest-xdist names it; "master" outside pacer."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


@pytest.fixture(scope="session")
def testrun_uid():
    """A string unique to this run, the same in every worker."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or "local"


@pytest.fixture(scope="session")
def test_prefix(worker_id, testrun_uid):
    """A short prefix unique to this run and worker, for naming shared resources."""
    # A hash, not a slice: the uid starts with the clock's high bits, which
    # two runs minutes apart share.
    run = hashlib.sha1(testrun_uid.encode()).hexdigest()[:6]
    return "t%s%s" % (run, worker_id.replace("gw", "w"))


# Set by pacer for every worker (and the pytest it hands a run to): each
# upstream's name and the variable its URL is in, as JSON. pacer names the
# variables; the plugin looks them up here rather than building them again.
UPSTREAMS_VAR = "PACER_UPSTREAMS"


def upstream_variable(name, environ=os.environ):
    """The variable that holds upstream `name`'s URL.

    For an upstream pacer runs, pacer's answer (`PACER_UPSTREAMS`). For one
    exported by hand (from `pacer proxy`'s output, say, under plain pytest),
    pacer's documented rule: `PACER_UPSTREAM_` and the name upper-cased, any
    character but an ASCII letter or digit as `_`.
    """
    given = json.loads(environ.get(UPSTREAMS_VAR) or "{}")
    if name in given:
        return given[name]
    return "PACER_UPSTREAM_" + "".join(c.upper() if c.isascii() and c.isalnum() else "_" for c in name)


def upstream_url(name):
    """The URL of pacer's proxy for the upstream `name`, or the test fails
    saying how to declare it."""
    key = upstream_variable(name)
    url = os.environ.get(key)
    if not url:
        pytest.fail(
            "no upstream named %r: %s is not set (declare it under "
            "[tool.pacer.upstreams.%s] or pass --upstream %s=URL)" % (name, key, name, name),
            pytrace=False,
        )
    return url


@pytest.fixture
def pacer_upstream():
    """`pacer_upstream("ofsc")` is the URL to use for that live API: pacer's
    rate-limiting proxy in front of it."""
    return upstream_url


@pytest.fixture
def pacer_requests():
    """`pacer_requests("ofsc")` is a `requests.Session` whose relative URLs go
    through pacer's proxy: `session.get("/rest/resources")`."""
    requests = pytest.importorskip("requests")
    sessions = []

    class UpstreamSession(requests.Session):
        def __init__(self, base_url):
            super().__init__()
            self.base_url = base_url.rstrip("/")

        def request(self, method, url, *args, **kwargs):
            if "://" not in url:
                url = self.base_url + "/" + url.lstrip("/")
            return super().request(method, url, *args, **kwargs)

    def make(name):
        session = UpstreamSession(upstream_url(name))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def pacer_httpx():
    """`pacer_httpx("ofsc")` is an `httpx.Client` with `base_url` set to pacer's
    proxy for that API."""
    httpx = pytest.importorskip("httpx")
    clients = []

    def make(name, **kwargs):
        client = httpx.Client(base_url=upstream_url(name), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

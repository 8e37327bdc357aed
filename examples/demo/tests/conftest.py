"""Shared fixtures of the demo suite.

`api` is a client for the demo API at $PACER_UPSTREAM_DEMO: under pacer that is
its rate-limiting proxy in front of the real (here: mock) API. Without it,
every test that needs the API is skipped with a reason that says how to run it.
"""

import os

import pytest

from demo_client import DemoClient

UPSTREAM_ENV = "PACER_UPSTREAM_DEMO"


@pytest.fixture(scope="session")
def api_base_url():
    url = os.environ.get(UPSTREAM_ENV)
    if not url:
        pytest.skip(
            f"{UPSTREAM_ENV} is not set: start the mock API "
            f"(cargo run -p pacer-mockapi -- --app demo --port 8765) "
            f"and set {UPSTREAM_ENV}=http://127.0.0.1:8765, or let pacer's proxy set it"
        )
    return url


@pytest.fixture
def api(api_base_url):
    return DemoClient(api_base_url)

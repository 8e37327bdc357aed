"""Unit tests of the HTTP client's pure parts: URLs and error parsing (no network)."""

import pytest

from demo_client import ApiError, DemoClient

pytestmark = pytest.mark.unit


@pytest.fixture
def client():
    return DemoClient("http://api.example/v1/")


def test_base_url_loses_trailing_slash(client):
    assert client.base_url == "http://api.example/v1"


@pytest.mark.parametrize(
    "path, query, expected",
    [
        ("/resources", {}, "http://api.example/v1/resources"),
        ("resources", {}, "http://api.example/v1/resources"),
        ("/resources", {"limit": 5}, "http://api.example/v1/resources?limit=5"),
        ("/resources", {"limit": 5, "offset": None}, "http://api.example/v1/resources?limit=5"),
        ("/search", {"q": "a b&c"}, "http://api.example/v1/search?q=a+b%26c"),
    ],
)
def test_url(client, path, query, expected):
    assert client.url(path, **query) == expected


def test_api_error_reads_json_message():
    error = ApiError.from_body(404, b'{"error": "no resource x"}')
    assert (error.status, error.message) == (404, "no resource x")
    assert str(error) == "HTTP 404: no resource x"


def test_api_error_falls_back_to_text():
    assert ApiError.from_body(502, b"Bad Gateway").message == "Bad Gateway"


def test_api_error_without_detail():
    assert ApiError.from_body(500, b"").message == "no detail"


def test_unreachable_api_raises():
    client = DemoClient("http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(OSError):
        client.health()

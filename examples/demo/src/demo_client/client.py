"""An HTTP client for the demo API on urllib, so the demo needs nothing but pytest.

It does no retrying or pacing of its own on purpose: under pacer, the client's
base URL points at pacer's rate-limiting proxy, which does both for every
worker at once.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from .models import Activity, Resource


class ApiError(Exception):
    """A non-2xx answer from the API."""

    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message

    @classmethod
    def from_body(cls, status, body):
        try:
            message = json.loads(body).get("error", "")
        except (ValueError, AttributeError):
            message = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return cls(status, message or "no detail")


class DemoClient:
    def __init__(self, base_url, timeout=10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def url(self, path, **query):
        """The full URL of `path` with the query parameters that are not None."""
        params = {k: v for k, v in query.items() if v is not None}
        tail = "?" + urllib.parse.urlencode(params) if params else ""
        return f"{self.base_url}/{path.lstrip('/')}{tail}"

    def _call(self, method, path, body=None, **query):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url(path, **query), data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise ApiError.from_body(error.code, error.read()) from None

    def health(self):
        return self._call("GET", "/health")

    def list_resources(self, limit=None, offset=None):
        page = self._call("GET", "/resources", limit=limit, offset=offset)
        return [Resource.from_dict(item) for item in page["items"]], page["total"]

    def get_resource(self, resource_id):
        return Resource.from_dict(self._call("GET", f"/resources/{urllib.parse.quote(resource_id)}"))

    def create_activity(self, activity):
        return Activity.from_dict(self._call("POST", "/activities", body=activity.to_dict()))

    def get_activity(self, activity_id):
        return Activity.from_dict(self._call("GET", f"/activities/{int(activity_id)}"))

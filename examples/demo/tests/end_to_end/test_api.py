"""End-to-end tests: real HTTP calls to the demo API at $PACER_UPSTREAM_DEMO.

Skipped when it is not set. Under pacer these calls go through its proxy,
which keeps all workers together under the API's rate limit.
"""

from datetime import date

import pytest

from demo_client import Activity, ApiError

pytestmark = pytest.mark.e2e


def test_health(api):
    assert api.health() == {"status": "ok"}


@pytest.mark.parametrize("offset", [0, 10, 20])
def test_list_resources_pages(api, offset):
    resources, total = api.list_resources(limit=10, offset=offset)
    assert total >= len(resources) > 0
    assert len({r.id for r in resources}) == len(resources)


def test_get_resource(api):
    first = api.list_resources(limit=1)[0][0]
    assert api.get_resource(first.id) == first


def test_missing_resource_is_404(api):
    with pytest.raises(ApiError) as error:
        api.get_resource("nobody_here")
    assert error.value.status == 404


@pytest.mark.parametrize("kind", ["install", "repair", "inspection"])
def test_create_and_read_activity(api, kind):
    created = api.create_activity(Activity("tech_01", kind, date(2024, 6, 1), duration_minutes=45))
    assert created.id is not None
    assert api.get_activity(created.id) == created


def test_activity_for_unknown_resource_is_rejected(api):
    with pytest.raises(ApiError) as error:
        api.create_activity(Activity("nobody_here", "repair", date(2024, 6, 1)))
    assert error.value.status == 422

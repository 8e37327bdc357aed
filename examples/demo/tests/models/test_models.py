"""Model tests: the validation and (de)serialisation of Resource and Activity."""

from datetime import date

import pytest

from demo_client import Activity, Resource, ValidationError


def test_resource_round_trip():
    data = {"id": "tech_01", "name": "Ada", "status": "active", "language": "en"}
    assert Resource.from_dict(data).to_dict() == data


def test_resource_ignores_unknown_fields():
    resource = Resource.from_dict({"id": "tech_02", "name": "Bo", "shoe_size": 44})
    assert resource.status == "active"


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"id": "", "name": "x"}, "bad resource id"),
        ({"id": "has space", "name": "x"}, "bad resource id"),
        ({"id": "ok", "name": "  "}, "name is empty"),
        ({"id": "ok", "name": "x", "status": "retired"}, "bad status"),
        ({"id": "ok", "name": "x", "language": "EN"}, "bad language"),
        ({"id": "ok", "name": "x", "language": "eng"}, "bad language"),
    ],
)
def test_resource_rejects(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        Resource(**fields)


def test_activity_round_trip():
    data = {"id": 7, "resource_id": "tech_01", "type": "repair", "day": "2024-05-01", "duration_minutes": 90}
    activity = Activity.from_dict(data)
    assert activity.day == date(2024, 5, 1)
    assert activity.to_dict() == data


def test_new_activity_has_no_id_in_payload():
    payload = Activity("tech_01", "install", date(2024, 1, 2)).to_dict()
    assert "id" not in payload and payload["day"] == "2024-01-02"


@pytest.mark.parametrize("minutes", [0, -5, 24 * 60 + 1])
def test_activity_duration_bounds(minutes):
    with pytest.raises(ValidationError, match="duration"):
        Activity("tech_01", "repair", date(2024, 1, 1), duration_minutes=minutes)


def test_activity_type_must_be_known():
    with pytest.raises(ValidationError, match="bad activity type"):
        Activity("tech_01", "teleport", date(2024, 1, 1))


def test_models_are_immutable():
    resource = Resource("tech_03", "Cy")
    with pytest.raises(AttributeError):
        resource.name = "Dee"

"""The demo API's records, with the validation the model tests exercise."""

from dataclasses import asdict, dataclass
from datetime import date
from typing import Optional

RESOURCE_STATUSES = ("active", "inactive")
ACTIVITY_TYPES = ("install", "repair", "inspection")


class ValidationError(ValueError):
    """A record that the API would reject."""


@dataclass(frozen=True)
class Resource:
    id: str
    name: str
    status: str = "active"
    language: str = "en"

    def __post_init__(self):
        if not self.id or not self.id.isidentifier():
            raise ValidationError(f"bad resource id: {self.id!r}")
        if not self.name.strip():
            raise ValidationError("resource name is empty")
        if self.status not in RESOURCE_STATUSES:
            raise ValidationError(f"bad status {self.status!r}, expected one of {RESOURCE_STATUSES}")
        if len(self.language) != 2 or not self.language.islower():
            raise ValidationError(f"bad language code: {self.language!r}")

    @classmethod
    def from_dict(cls, data):
        known = {k: data[k] for k in ("id", "name", "status", "language") if k in data}
        return cls(**known)

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Activity:
    resource_id: str
    type: str
    day: date
    duration_minutes: int = 60
    id: Optional[int] = None

    def __post_init__(self):
        if self.type not in ACTIVITY_TYPES:
            raise ValidationError(f"bad activity type {self.type!r}, expected one of {ACTIVITY_TYPES}")
        if not 0 < self.duration_minutes <= 24 * 60:
            raise ValidationError(f"duration out of range: {self.duration_minutes}")

    @classmethod
    def from_dict(cls, data):
        return cls(
            id=data.get("id"),
            resource_id=data["resource_id"],
            type=data["type"],
            day=date.fromisoformat(data["day"]),
            duration_minutes=int(data.get("duration_minutes", 60)),
        )

    def to_dict(self):
        data = asdict(self)
        data["day"] = self.day.isoformat()
        if self.id is None:
            del data["id"]
        return data

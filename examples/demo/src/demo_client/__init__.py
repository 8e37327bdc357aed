"""A tiny client for the demo API: the code pacer's demo suite tests.

Stands in for an API client like `ofsc`: models with validation
(`models.py`) and an HTTP client on urllib (`client.py`), standard library only.
"""

from .client import ApiError, DemoClient
from .models import Activity, Resource, ValidationError

__all__ = ["ApiError", "DemoClient", "Activity", "Resource", "ValidationError"]

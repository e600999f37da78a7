"""The services' notion of now (injectable, so tests can set it)."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)

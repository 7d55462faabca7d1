"""Timestamps as the API writes them: ISO 8601, UTC, milliseconds, a trailing Z."""

from datetime import UTC, datetime


def iso_utc(unix_seconds: float) -> str:
    """Format seconds since the epoch as `2026-11-28T18:00:00.123Z`."""
    moment = datetime.fromtimestamp(unix_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

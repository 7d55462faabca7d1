"""What grew between two snapshots, by component and by type (read from their JSON)."""

from __future__ import annotations

import re

from profiling.core.config import MIB

MAX_ROWS = 50
# Snapshots written before type names were made stable may hold an object's address in a
# name (`<property object at 0x7f...>.Name`): the address differs in every process.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _measures(data: dict, section: str, key: str) -> dict[str, tuple[int, int]]:
    """name -> (count, size_bytes) from a snapshot section, skipping malformed rows."""
    rows = data.get(section)
    found: dict[str, tuple[int, int]] = {}
    if not isinstance(rows, list):
        return found
    for row in rows:
        if not isinstance(row, dict):
            continue
        name, count, size = row.get(key), row.get("count"), row.get("size_bytes")
        if isinstance(name, str) and isinstance(count, int) and isinstance(size, int):
            name = _ADDRESS.sub("", name)
            held = found.get(name, (0, 0))
            found[name] = (held[0] + count, held[1] + size)
    return found


def _diff(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], key: str) -> list[dict]:
    rows = []
    for name in before.keys() | after.keys():
        count_a, size_a = before.get(name, (0, 0))
        count_b, size_b = after.get(name, (0, 0))
        if size_b > size_a or count_b > count_a:
            rows.append(
                {
                    key: name,
                    "count_before": count_a,
                    "count_after": count_b,
                    "count_delta": count_b - count_a,
                    "size_bytes_before": size_a,
                    "size_bytes_after": size_b,
                    "size_delta_bytes": size_b - size_a,
                }
            )
    rows.sort(key=lambda r: (r["size_delta_bytes"], r["count_delta"]), reverse=True)
    return rows[:MAX_ROWS]


def _rss_mb(data: dict) -> float | None:
    memory = data.get("memory")
    value = memory.get("rss_mb") if isinstance(memory, dict) else None
    return value if isinstance(value, (int, float)) else None


def compare_snapshots(before: dict, after: dict) -> dict:
    """The components and types that grew from `before` to `after`, biggest growth first."""
    rss_a, rss_b = _rss_mb(before), _rss_mb(after)
    ts_a, ts_b = before.get("unix_time"), after.get("unix_time")
    elapsed = ts_b - ts_a if isinstance(ts_a, (int, float)) and isinstance(ts_b, (int, float)) else None
    components = _diff(
        _measures(before, "components", "component"), _measures(after, "components", "component"), "component"
    )
    types = _diff(_measures(before, "types", "type"), _measures(after, "types", "type"), "type")
    return {
        "from_snapshot": before.get("snapshot_id"),
        "to_snapshot": after.get("snapshot_id"),
        "from_timestamp": before.get("timestamp"),
        "to_timestamp": after.get("timestamp"),
        "elapsed_secs": None if elapsed is None else round(elapsed, 3),
        "rss_delta_mb": None if rss_a is None or rss_b is None else round(rss_b - rss_a, 3),
        "components": components,
        "types": types,
        "summary": _summary(components, types),
    }


def _summary(components: list[dict], types: list[dict]) -> list[str]:
    lines = []
    for row in components[:3]:
        lines.append(
            f"{row['component']} grew by {row['size_delta_bytes'] / MIB:.2f} MB "
            f"({row['count_delta']:+d} items)"
        )
    for row in types[:3]:
        lines.append(
            f"Objects of type {row['type']}: {row['count_delta']:+d} "
            f"({row['size_delta_bytes'] / MIB:+.2f} MB)"
        )
    return lines or ["Nothing grew between the two snapshots."]

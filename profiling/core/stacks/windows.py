"""Windows of the profile history picked by time, and the diff of two of them.

A window given as `from`/`to` (unix seconds) is read from the sampler's history (10 s
buckets for the last hour, coarser up to a day: profiling/core/stacks/history.py); one
that is not inside what the history holds is refused with the range it does hold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from profiling.core.errors import InvalidParameterError
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.report import _frame_name, _frames
from profiling.core.stacks.store import Totals
from profiling.core.timefmt import iso_utc

# A window may end this far past the newest data (its bucket is still being written) and
# start this far before the oldest (the first bucket's start is rounded).
SLACK_SECS = 10.0
# Diff nodes whose share is under this fraction in both windows are left out.
MIN_DIFF_FRACTION = 0.0005


def parse_instant(value: str) -> float:
    """Unix seconds from `1767225600`, `1767225600.5` or ISO 8601 (`2026-12-03T07:00:00Z`; naive is UTC)."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text[:64]!r} is neither a number nor an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("not a time after 1970")
    return seconds


def history_window(sampler, start: float, end: float, *, now: Callable[[], float] = time.time) -> Totals:
    """The history's merged samples in [start, end), or InvalidParameterError naming what it holds."""
    if not end > start:
        raise InvalidParameterError("to must be after from")
    history = getattr(sampler, "history", None)
    coverage = history.coverage() if history is not None else None
    if coverage is None:
        raise InvalidParameterError("The profile history holds no samples yet: ask with window= instead.")
    oldest, newest = coverage
    newest = max(newest, now())
    if start < oldest - SLACK_SECS or end > newest + SLACK_SECS:
        raise InvalidParameterError(
            f"The window {iso_utc(start)} .. {iso_utc(end)} is not inside the profile history, which "
            f"holds {iso_utc(oldest)} .. {iso_utc(newest)}."
        )
    return history.between(start, end)


def _tree(totals: Totals, labeler: CodeLabeler, is_route) -> dict:
    root: dict = {"value": 0, "children": {}}
    for stack, stats in totals.stacks.items():
        node = root
        node["value"] += stats.samples
        for label_id in _frames(stack, is_route):
            name = _frame_name(labeler, label_id)
            child = node["children"].get(name)
            if child is None:
                child = node["children"][name] = {"value": 0, "children": {}}
            child["value"] += stats.samples
            node = child
    return root


def diff_tree(
    base: Totals,
    new: Totals,
    labeler: CodeLabeler,
    *,
    is_route: Callable[[int], bool] | None = None,
    min_fraction: float = MIN_DIFF_FRACTION,
) -> dict:
    """Both windows' busy samples as one tree: per frame each window's share of its own total.

    `delta_percent` = share in the new window - share in the base window (points); a frame
    seen in one window only has `only_in` = "base" or "new".
    """
    a, b = _tree(base, labeler, is_route), _tree(new, labeler, is_route)
    total_a, total_b = a["value"], b["value"]

    def share(value: int, total: int) -> float:
        return 100.0 * value / total if total else 0.0

    def merge(name: str, left: dict | None, right: dict | None) -> dict:
        base_value = left["value"] if left else 0
        value = right["value"] if right else 0
        names = set(left["children"] if left else ()) | set(right["children"] if right else ())
        children = []
        for child in names:
            l_child = left["children"].get(child) if left else None
            r_child = right["children"].get(child) if right else None
            l_share = share(l_child["value"], total_a) if l_child else 0.0
            r_share = share(r_child["value"], total_b) if r_child else 0.0
            if max(l_share, r_share) < 100.0 * min_fraction:
                continue
            children.append(merge(child, l_child, r_child))
        children.sort(key=lambda c: (-max(c["share_percent"], c["base_share_percent"]), c["name"]))
        base_share, new_share = share(base_value, total_a), share(value, total_b)
        return {
            "name": name,
            "base_value": base_value,
            "value": value,
            "base_share_percent": round(base_share, 3),
            "share_percent": round(new_share, 3),
            "delta_percent": round(new_share - base_share, 3),
            "only_in": "base" if value == 0 else "new" if base_value == 0 else None,
            "children": children,
        }

    tree = merge("all", a, b)
    tree["only_in"] = None
    return tree

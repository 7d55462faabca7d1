"""What every benchmark returns: rows of a table, each a figure against its bar."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Row:
    """One measured figure. `ok` is None when the figure has no bar (reported only)."""

    name: str
    value: str
    bar: str = ""
    ok: bool | None = None
    detail: str = ""


def median_and_spread(values: list[float]) -> tuple[float, float, float]:
    """Median, min and max of a list of measurements."""
    return statistics.median(values), min(values), max(values)


def fmt_ratio(values: list[float]) -> str:
    med, low, high = median_and_spread(values)
    return f"{med:.3f} (min {low:.3f}, max {high:.3f}, n={len(values)})"

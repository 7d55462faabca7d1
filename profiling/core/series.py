"""Small numeric helpers over time series."""

from __future__ import annotations

from collections.abc import Sequence


def least_squares_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Return the least-squares slope dy/dx of (x, y) points, or None for fewer than two x values."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return sxy / sxx

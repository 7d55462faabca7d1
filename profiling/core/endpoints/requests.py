"""Requests per route: counts, 5xx errors and latency quantiles over a bounded window.

The request path only appends one tuple to a bounded deque (`record`); routes are
resolved and figures aggregated when the log is drained (by the sampler's thread or a
report), into buckets of `bucket_secs` whose latencies are kept as a log-scale sketch:
a quantile read from it is within RELATIVE_ACCURACY of the true one (DDSketch's
construction, Masson et al., VLDB 2019), in memory that grows with the spread of the
latencies, never with their number.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
MIN_LATENCY_SECS = 1e-6
# Requests waiting to be aggregated; past this (no drain for a long while) the oldest go.
MAX_PENDING = 65_536
# The buckets of the latency histogram on /metrics (seconds), Prometheus's usual ones.
HISTOGRAM_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# (end monotonic, method, path, status, seconds)
Event = tuple[float, str, str, int, float]


def _bin(seconds: float) -> int:
    return math.ceil(math.log(max(seconds, MIN_LATENCY_SECS)) / _LOG_GAMMA)


def _bin_value(index: int) -> float:
    # The value whose relative distance to every value of the bin is at most the accuracy.
    return 2.0 * _GAMMA**index / (_GAMMA + 1.0)


@dataclass
class RouteRequests:
    """One route's requests in a bucket (or a window): count, errors, latency sketch."""

    requests: int = 0
    errors: int = 0
    latency_bins: dict[int, int] = field(default_factory=dict)

    def add_request(self, status: int, seconds: float) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        index = _bin(seconds)
        self.latency_bins[index] = self.latency_bins.get(index, 0) + 1

    def add(self, other: RouteRequests) -> None:
        self.requests += other.requests
        self.errors += other.errors
        bins = self.latency_bins
        for index, count in other.latency_bins.items():
            bins[index] = bins.get(index, 0) + count

    def quantile(self, q: float) -> float | None:
        """The q-quantile of the latencies in seconds (None without requests)."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: tuple[float, ...]) -> list[float | None]:
        """The latencies' quantiles in seconds for each of `qs` (ascending), None without requests."""
        bins = self.latency_bins
        total = sum(bins.values())
        if total == 0:
            return [None] * len(qs)
        indexes = sorted(bins)
        found: list[float | None] = []
        seen, at = 0, 0
        for q in qs:
            rank = q * (total - 1)
            while at < len(indexes) and seen + bins[indexes[at]] <= rank:
                seen += bins[indexes[at]]
                at += 1
            found.append(_bin_value(indexes[min(at, len(indexes) - 1)]))
        return found


@dataclass
class Cumulative:
    """One route's requests since start, as /metrics counts them."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    # Requests at most HISTOGRAM_BOUNDS[i] long (not yet cumulative), and the rest at the end.
    buckets: list[int] = field(default_factory=lambda: [0] * (len(HISTOGRAM_BOUNDS) + 1))


class RequestLog:
    """Requests recorded by the server entry points, aggregated per route label id."""

    def __init__(
        self, *, bucket_secs: float = 5.0, max_window_secs: float = 600.0, max_pending: int = MAX_PENDING
    ):
        self.bucket_secs = bucket_secs
        self.max_window_secs = max_window_secs
        self._pending: deque[Event] = deque(maxlen=max_pending)
        self._lock = threading.Lock()
        self._buckets: deque[tuple[int, dict[int, RouteRequests]]] = deque(
            maxlen=math.ceil(max_window_secs / bucket_secs) + 1
        )
        self.cumulative: dict[int, Cumulative] = {}
        self.dropped = 0
        # The merge of a window's closed buckets (they never change: a late request goes to
        # the newest), reused until a bucket closes or the window moves.
        self._closed_cache: tuple[tuple, dict[int, RouteRequests]] | None = None

    def record(self, end: float, method: str, path: str, status: int, seconds: float) -> None:
        """Note one finished request (called on the request path: one append)."""
        pending = self._pending
        if len(pending) == pending.maxlen:
            self.dropped += 1
        pending.append((end, method, path, status, seconds))

    def drain(self, route_of: Callable[[str, str], int]) -> int:
        """Aggregate the pending requests; `route_of(method, path)` gives a route's label id."""
        if not self._pending:  # the sampler asks every tick: most find nothing, take no lock
            return 0
        with self._lock:
            pending = self._pending
            drained = 0
            while pending:
                try:
                    end, method, path, status, seconds = pending.popleft()
                except IndexError:
                    break
                route_id = route_of(method, path)
                self._bucket_at(end).setdefault(route_id, RouteRequests()).add_request(status, seconds)
                total = self.cumulative.get(route_id)
                if total is None:
                    total = self.cumulative[route_id] = Cumulative()
                total.requests += 1
                total.errors += status >= 500
                total.seconds += seconds
                total.buckets[bisect.bisect_left(HISTOGRAM_BOUNDS, seconds)] += 1
                drained += 1
            return drained

    def _bucket_at(self, monotonic: float) -> dict[int, RouteRequests]:
        index = math.floor(monotonic / self.bucket_secs)
        buckets = self._buckets
        if buckets and buckets[-1][0] >= index:  # this bucket, or a late request: the newest
            return buckets[-1][1]
        buckets.append((index, {}))
        return buckets[-1][1]

    def window(self, now: float, window_secs: float) -> dict[int, RouteRequests]:
        """Requests that ended in the buckets starting within the last `window_secs` before `now`."""
        first = math.ceil((now - window_secs) / self.bucket_secs)
        with self._lock:
            kept = [(index, routes) for index, routes in self._buckets if index >= first]
        closed = kept[:-1]  # these never change again
        key = (first, closed[-1][0] if closed else None, len(closed))
        cached = self._closed_cache
        if cached is not None and cached[0] == key:
            base = cached[1]
        else:
            base = {}
            for _, routes in closed:
                for route_id, figures in routes.items():
                    base.setdefault(route_id, RouteRequests()).add(figures)
            self._closed_cache = (key, base)
        merged: dict[int, RouteRequests] = {}
        for route_id, figures in base.items():
            merged[route_id] = RouteRequests()
            merged[route_id].add(figures)
        if kept:
            with self._lock:  # the newest bucket is still being written
                for route_id, figures in kept[-1][1].items():
                    merged.setdefault(route_id, RouteRequests()).add(figures)
        return merged

    def between(self, start: float, end: float) -> dict[int, RouteRequests] | None:
        """Requests of the buckets starting in [start, end) (monotonic), None when the log no
        longer holds the start of that window."""
        with self._lock:
            buckets = list(self._buckets)
        first = math.floor(start / self.bucket_secs)
        if not buckets or buckets[0][0] > first:
            return None
        merged: dict[int, RouteRequests] = {}
        with self._lock:
            for index, routes in buckets:
                if first <= index and index * self.bucket_secs < end:
                    for route_id, figures in routes.items():
                        merged.setdefault(route_id, RouteRequests()).add(figures)
        return merged

    def totals(self) -> dict[int, Cumulative]:
        """A copy of the figures since start, per route label id."""
        with self._lock:
            return {
                route_id: Cumulative(c.requests, c.errors, c.seconds, list(c.buckets))
                for route_id, c in self.cumulative.items()
            }

"""Requests' (method, path) turned into a bounded set of routes, each a stack label."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from profiling.core.stacks.labels import CodeLabeler, FrameLabel

# Distinct (method, route) pairs kept; the rest are summed as `other`.
MAX_ROUTES = 300
# (method, path) pairs whose route is remembered; past this the cache starts afresh
# (paths with ids in them are many, their routes few).
MAX_CACHED_PATHS = 4096
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

BACKGROUND = "background"
UNMATCHED = "unmatched"
OTHER = "other"
# The file of a route's label: no code object has it, so no function's label is a route's.
ROUTE_FILE = "<route>"

# path -> (route pattern, URL name), or None when no route matches.
Resolver = Callable[[str], "tuple[str, str | None] | None"]


@dataclass(frozen=True)
class Route:
    """One endpoint as the API names it: `GET /items/<int:pk>`, or background/unmatched/other."""

    endpoint: str
    method: str | None
    route: str | None
    name: str | None


class RouteTable:
    """(method, path) -> the label id of its route, through a resolver called off the request path.

    Every route is interned in the labeler as a label of its own (file `<route>`), which the
    sampler puts at the root of the stacks it samples while that route's request runs.
    """

    def __init__(
        self, labeler: CodeLabeler, *, max_routes: int = MAX_ROUTES, max_cached: int = MAX_CACHED_PATHS
    ):
        self.labeler = labeler
        self.max_routes = max_routes
        self.max_cached = max_cached
        self.resolver: Resolver | None = None
        self._lock = threading.Lock()
        self._by_path: dict[tuple[str, str], int] = {}
        self._by_key: dict[tuple[str, str], int] = {}
        self.routes: dict[int, Route] = {}
        self.background_id = self._add(Route(BACKGROUND, None, None, None))
        self.unmatched_id = self._add(Route(UNMATCHED, None, None, None))
        self.other_id = self._add(Route(OTHER, None, None, None))

    def _add(self, route: Route) -> int:
        label_id = self.labeler.intern(FrameLabel(route.endpoint, ROUTE_FILE, 0, False))
        if label_id == self.labeler.overflow_id:  # every label taken: the route is one of the others
            return self.routes_other()
        self.routes.setdefault(label_id, route)
        return label_id

    def routes_other(self) -> int:
        return getattr(self, "other_id", self.labeler.overflow_id)

    def is_route(self, label_id: int) -> bool:
        return label_id in self.routes

    def label_for(self, method: str, path: str) -> int:
        """The label id of the route serving `method path` (cached)."""
        key = (method, path)
        found = self._by_path.get(key)
        if found is not None:
            return found
        label_id = self._resolve(method, path)
        if len(self._by_path) >= self.max_cached:
            self._by_path.clear()
        self._by_path[key] = label_id
        return label_id

    def _resolve(self, method: str, path: str) -> int:
        resolver = self.resolver
        try:
            found = resolver(path) if resolver is not None else None
        except Exception:  # a URLconf that fails to import: the request is unmatched, not lost
            found = None
        if found is None:
            return self.unmatched_id
        pattern, name = found
        method = method.upper() if method.upper() in METHODS else "OTHER"
        key = (method, pattern)
        with self._lock:
            label_id = self._by_key.get(key)
            if label_id is None:
                if len(self._by_key) >= self.max_routes:
                    return self.other_id
                label_id = self._by_key[key] = self._add(Route(f"{method} {pattern}", method, pattern, name))
            return label_id

    def by_endpoint(self, endpoint: str) -> int | None:
        """The label id of an endpoint named as the API names it, if it was ever seen."""
        for label_id, route in list(self.routes.items()):
            if route.endpoint == endpoint:
                return label_id
        return None

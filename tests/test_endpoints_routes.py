"""Routes as the endpoints report names them: Django's resolver, then a readable pattern."""

from __future__ import annotations

import pytest

from profiling.endpoints import readable_route, resolve_route


@pytest.mark.parametrize(
    ("route", "readable"),
    [
        ("items/<int:pk>/", "/items/<int:pk>/"),
        ("", "/"),
        ("api/profiling/memory/?$", "/api/profiling/memory"),
        ("^snapshot/(?P<snapshot_id>[^/]+)/download/?$", "/snapshot/<snapshot_id>/download"),
        (r"^a/(?P<x>(ab|cd)+)/(?P<y>\d{2})$", "/a/<x>/<y>"),
        (r"^plain\Z", "/plain"),
        ("^broken/(?P<name", "/broken/(?P<name"),
    ],
)
def test_a_route_reads_as_its_pattern_without_regex_syntax(route, readable):
    assert readable_route(route) == readable


def test_the_projects_routes_resolve_to_readable_patterns_and_names():
    assert resolve_route("/api/profiling/memory") == ("/api/profiling/memory", "profiling:memory")
    assert resolve_route("/api/profiling/snapshot/abc/download") == (
        "/api/profiling/snapshot/<snapshot_id>/download",
        "profiling:snapshot-download",
    )
    assert resolve_route("/no/such/page/at/all") is None  # the report counts it as unmatched

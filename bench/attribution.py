"""What per-route attribution costs on the request path, measured in one process.

Per request, the server entry point (profiling.asgi.wrap) wraps `send` to read the status
and appends one record when the request ends, and the request_started/request_finished
receivers mark and unmark the thread and set the request's context variable
(docs/endpoints.md). This times exactly that work: the ASGI wrapper around a trivial
application with request counting on and off, and the two receivers, in interleaved
rounds (best of the rounds: other processes on a shared machine only ever add time).
The cost is set beside the CPU of one of the cheapest real Django requests, /healthz
through the whole handler and middleware stack (django.test.Client): its share of that
request is the attribution's share of a request's CPU, at most. The sampler's side of
attribution (reading a request frame once per request, a cached route lookup) runs on
the profiler's own thread and is counted in the stack sampler's rows.
"""

from __future__ import annotations

import asyncio
import os
import time
from types import SimpleNamespace

from bench.common import Row

BAR_PERCENT = 1.0


class _Profiler:
    """The runtime as the ASGI wrapper sees it: enabled, running, with a real endpoint tracker."""

    def __init__(self, enabled: bool):
        from profiling.core.endpoints.tracker import EndpointTracker

        self.config = SimpleNamespace(enabled=enabled)
        self.endpoints = EndpointTracker()

    def ensure_running(self) -> None:
        pass


async def _app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _asgi_secs(enabled: bool, count: int) -> float:
    """Process CPU seconds of `count` requests through the wrapper (tracking on or off)."""
    from profiling.asgi import ProfilerMiddleware

    profiler = _Profiler(enabled)
    wrapped = ProfilerMiddleware(_app, profiler, max_bytes=1024)
    wrapped._paths = ("/api/profiling/",)
    scope = {"type": "http", "method": "GET", "path": "/items/1", "root_path": ""}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    async def requests() -> float:
        started = time.process_time()
        for _ in range(count):
            await wrapped(scope, receive, send)
        took = time.process_time() - started
        profiler.endpoints.drain()  # the profiler's thread does this, off the request path
        return took

    return asyncio.run(requests())


def _receivers_secs(count: int) -> float:
    """Process CPU seconds of `count` request_started + request_finished receiver pairs."""
    from profiling.endpoints import _SignalMarks

    marks = _SignalMarks(SimpleNamespace(endpoints=_Profiler(True).endpoints))
    scope = {"method": "GET", "path": "/items/1", "root_path": ""}
    started = time.process_time()
    for _ in range(count):
        marks.started(None, scope=scope)
        marks.finished(None)
    return time.process_time() - started


def _healthz_secs(count: int) -> float:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riptide_dashboard.settings")
    import warnings

    import django

    django.setup()
    from django.test import Client

    warnings.filterwarnings("ignore", message="No directory at")
    client = Client(HTTP_HOST="127.0.0.1")
    started = time.process_time()
    for _ in range(count):
        if client.get("/healthz").status_code != 200:
            raise RuntimeError("/healthz did not answer 200")
    return time.process_time() - started


def run(quick: bool = False) -> list[Row]:
    rounds = 5 if quick else 15
    count = 5_000 if quick else 20_000
    django_count = 300 if quick else 1_000
    on, off, receivers, healthz = [], [], [], []
    _healthz_secs(20)  # imports and first-request work
    for r in range(rounds):
        pair = [(on, True), (off, False)] if r % 2 == 0 else [(off, False), (on, True)]
        for into, enabled in pair:
            into.append(_asgi_secs(enabled, count) / count)
        receivers.append(_receivers_secs(count) / count)
        healthz.append(_healthz_secs(django_count) / django_count)
    wrapper_us = max(0.0, min(on) - min(off)) * 1e6
    receivers_us = min(receivers) * 1e6
    total_us = wrapper_us + receivers_us
    request_us = min(healthz) * 1e6
    share = 100.0 * total_us / request_us
    return [
        Row(
            "attribution's cost per request (ASGI wrapper + request signal receivers)",
            f"{total_us:.1f} us, {share:.2f} % of a /healthz request's CPU",
            f"< {BAR_PERCENT:g} %",
            share < BAR_PERCENT,
            f"wrapper {wrapper_us:.1f} us (counting on {min(on) * 1e6:.1f} us vs off {min(off) * 1e6:.1f} us "
            f"per request through it), receivers {receivers_us:.1f} us; /healthz {request_us:.0f} us of CPU "
            f"through the whole Django stack; best of {rounds} interleaved rounds of {count} requests",
        )
    ]

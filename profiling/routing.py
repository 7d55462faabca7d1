"""The ASGI application: HTTP through Django, the live feed's websocket; the runtime kept running."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from profiling.core.runtime import ProfilingRuntime


class EnsureProfilerRunning:
    """Start the profiler in this process on first use (a forked worker starts its own)."""

    def __init__(self, app, profiler: ProfilingRuntime):
        self.app = app
        self.profiler = profiler

    async def __call__(self, scope, receive, send):
        self.profiler.ensure_running()
        return await self.app(scope, receive, send)


def websocket_application():
    """The websocket routes, behind the session and auth middleware (the dashboard's login)."""
    from profiling.consumers import LiveFeedConsumer

    return AuthMiddlewareStack(URLRouter([path("ws/profiling/live/", LiveFeedConsumer.as_asgi())]))


def build_application(django_application, profiler: ProfilingRuntime):
    return EnsureProfilerRunning(
        ProtocolTypeRouter({"http": django_application, "websocket": websocket_application()}), profiler
    )

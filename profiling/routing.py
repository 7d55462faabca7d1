"""The ASGI application: HTTP through Django; the runtime kept running per process."""

from __future__ import annotations

from channels.routing import ProtocolTypeRouter

from profiling.core.runtime import ProfilingRuntime


class EnsureProfilerRunning:
    """Start the profiler in this process on first use (a forked worker starts its own)."""

    def __init__(self, app, profiler: ProfilingRuntime):
        self.app = app
        self.profiler = profiler

    async def __call__(self, scope, receive, send):
        self.profiler.ensure_running()
        return await self.app(scope, receive, send)


def build_application(django_application, profiler: ProfilingRuntime):
    return EnsureProfilerRunning(ProtocolTypeRouter({"http": django_application}), profiler)

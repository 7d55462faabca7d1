"""`wrap()`: the host's ASGI application with the profiler running beside it.

In the host's asgi.py::

    application = profiling.asgi.wrap(get_asgi_application())

Given Django's ASGI handler, it adds the live feed's websocket route (behind the session
and auth middleware); given the host's own `ProtocolTypeRouter` (into which the host put
`profiling.routing.websocket_urlpatterns`), it keeps it as it is. Either way it starts the
profiler once per serving process (profiling/startup.py), answers the ASGI lifespan
protocol (uvicorn sends it: startup starts the profiler, shutdown stops it), and refuses
request bodies over the limit on the app's own paths before Django reads them.
"""

from __future__ import annotations

import asyncio
import logging
import time

from profiling.asgi_limits import BodySizeLimitMiddleware, adapt_daphne
from profiling.conf import runtime
from profiling.core.runtime import ProfilingRuntime
from profiling.endpoints import asgi_path
from profiling.endpoints import install as install_endpoints
from profiling.settings import profiling_settings
from profiling.startup import autostart, profiling_paths

logger = logging.getLogger(__name__)


class ProfilerMiddleware:
    """Keep the profiler running in this process; answer lifespan; limit the app's bodies."""

    def __init__(self, app, profiler: ProfilingRuntime, *, max_bytes: int):
        self.app = app
        self.profiler = profiler
        self._paths: tuple[str, ...] | None = None
        self.limited = BodySizeLimitMiddleware(app, max_bytes=max_bytes, paths=self.profiling_paths)
        # Requests per route are counted only while profiling is on (off costs nothing).
        self.track = bool(profiler.config.enabled)

    def profiling_paths(self) -> tuple[str, ...]:
        if self._paths is None:
            self._paths = profiling_paths()
        return self._paths

    def _is_profiling_path(self, scope) -> bool:
        self.profiling_paths()
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        return path.startswith(self._paths) if self._paths else False

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        self.profiler.ensure_running()
        if kind != "http":
            return await self.app(scope, receive, send)
        app = self.limited if self._is_profiling_path(scope) else self.app
        if not self.track:
            return await app(scope, receive, send)
        return await self._counted(app, scope, receive, send)

    async def _counted(self, app, scope, receive, send):
        """Run one HTTP request, then record its method, path, status and duration."""
        started = time.perf_counter()
        status = 0

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message.get("status", 0)
            await send(message)

        try:
            await app(scope, receive, send_status)
        except asyncio.CancelledError:
            status = status or 499  # the client went away before an answer
            raise
        except BaseException:
            status = status or 500
            raise
        finally:
            self.profiler.endpoints.record(
                scope.get("method", ""), asgi_path(scope), status, time.perf_counter() - started
            )

    async def _lifespan(self, receive, send):
        # Django's handler speaks no lifespan; the profiler is what starts and stops here.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.profiler.ensure_running()
                except Exception:
                    logger.warning("the profiler could not start", exc_info=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.profiler.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def websocket_application():
    """The feed's websocket routes behind the session and auth middleware (the dashboard's login)."""
    from channels.routing import URLRouter

    from profiling.consumers import feed_middleware_stack
    from profiling.routing import websocket_urlpatterns

    return feed_middleware_stack(URLRouter(websocket_urlpatterns))


def wrap(application, *, start: bool | None = None, profiler: ProfilingRuntime | None = None):
    """The host's ASGI `application` with the profiler and its live feed.

    `start=None` follows the AUTOSTART setting (default on); `start=False` leaves starting
    to the first request (tests pass their own `profiler`).
    """
    from channels.routing import ProtocolTypeRouter

    profiler = profiler or runtime()
    if not isinstance(application, ProtocolTypeRouter):
        application = ProtocolTypeRouter({"http": application, "websocket": websocket_application()})
    wrapped = ProfilerMiddleware(application, profiler, max_bytes=profiling_settings.MAX_BODY_BYTES)
    if wrapped.track:
        install_endpoints(profiler)
    adapt_daphne()
    autostart(profiler, profiling_settings.AUTOSTART if start is None else start)
    return wrapped

"""`wrap()`: the host's WSGI application with the profiler running beside it.

In the host's wsgi.py::

    application = profiling.wsgi.wrap(get_wsgi_application())

It starts the profiler once per serving process (profiling/startup.py: in each gunicorn
worker, never in a `--preload` master) and refuses request bodies over the limit on the
app's own paths before Django reads them. WSGI has no websockets: the dashboard then
polls GET /api/profiling/samples for the same charts.
"""

from __future__ import annotations

import io
import json
import time

from profiling.conf import runtime
from profiling.core.runtime import ProfilingRuntime
from profiling.endpoints import install as install_endpoints
from profiling.settings import profiling_settings
from profiling.startup import autostart, profiling_paths


class ProfilerMiddleware:
    """Keep the profiler running in this process; refuse oversized bodies to the app's paths."""

    def __init__(self, app, profiler: ProfilingRuntime, *, max_bytes: int):
        self.app = app
        self.profiler = profiler
        self.max_bytes = max_bytes
        self._paths: tuple[str, ...] | None = None
        # Requests per route are counted only while profiling is on (off costs nothing).
        self.track = bool(profiler.config.enabled)

    def __call__(self, environ, start_response):
        if not self.track:
            return self._serve(environ, start_response)
        started = time.perf_counter()
        status = 500  # unless the application starts a response

        def start_with_status(status_line, headers, exc_info=None):
            nonlocal status
            try:
                status = int(status_line.split(" ", 1)[0])
            except ValueError:
                status = 0
            if exc_info is None:  # as it was called: a start_response may take two arguments only
                return start_response(status_line, headers)
            return start_response(status_line, headers, exc_info)

        try:
            return self._serve(environ, start_with_status)
        finally:
            # The response is built (streamed bodies are still to be sent): its duration so far.
            self.profiler.endpoints.record(
                environ.get("REQUEST_METHOD", ""),
                environ.get("PATH_INFO", ""),
                status,
                time.perf_counter() - started,
            )

    def _serve(self, environ, start_response):
        self.profiler.ensure_running()
        if self._paths is None:
            self._paths = profiling_paths()
        if self._paths and environ.get("PATH_INFO", "").startswith(self._paths):
            refused = self._check_body(environ)
            if refused is not None:
                status, detail = refused
                body = json.dumps({"detail": detail}).encode()
                start_response(
                    status,
                    [
                        ("Content-Type", "application/json"),
                        ("Content-Length", str(len(body))),
                        ("Connection", "close"),
                    ],
                )
                return [body]
        return self.app(environ, start_response)

    def _check_body(self, environ) -> tuple[str, str] | None:
        declared = environ.get("CONTENT_LENGTH") or ""
        if declared:
            try:
                length = int(declared)
            except ValueError:
                return "400 Bad Request", "Invalid Content-Length header."
            if length > self.max_bytes:
                return self._too_large()
            return None
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # No length given: read at most one byte past the limit, then hand Django the rest.
            stream = environ["wsgi.input"]
            data = stream.read(self.max_bytes + 1)
            if len(data) > self.max_bytes:
                return self._too_large()
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
        return None

    def _too_large(self) -> tuple[str, str]:
        return "413 Request Entity Too Large", f"Request body too large: the limit is {self.max_bytes} bytes."


def wrap(application, *, start: bool | None = None, profiler: ProfilingRuntime | None = None):
    """The host's WSGI `application` with the profiler; `start` as in profiling.asgi.wrap."""
    profiler = profiler or runtime()
    wrapped = ProfilerMiddleware(application, profiler, max_bytes=profiling_settings.MAX_BODY_BYTES)
    if wrapped.track:
        install_endpoints(profiler)
    autostart(profiler, profiling_settings.AUTOSTART if start is None else start)
    return wrapped

"""profiling.wsgi.wrap and profiling.asgi.wrap: start once per serving process, limit the app's bodies."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from profiling import startup
from tests.conftest import make_runtime

ROOT = Path(__file__).resolve().parent.parent


def wsgi_call(app, path: str, body: bytes = b"", headers: dict | None = None):
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        **(headers or {}),
    }
    seen = {}

    def start_response(status, response_headers):
        seen["status"] = status
        seen["headers"] = dict(response_headers)

    chunks = app(environ, start_response)
    return seen["status"], b"".join(chunks), environ


def host_wsgi_app(environ, start_response):
    data = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"host read {len(data)}".encode()]


@pytest.fixture
def wsgi_app():
    import profiling.wsgi

    runtime = make_runtime()
    app = profiling.wsgi.wrap(host_wsgi_app, start=False, profiler=runtime)
    yield app, runtime
    runtime.stop()


def test_wsgi_wrap_starts_nothing_until_the_first_request(wsgi_app):
    app, runtime = wsgi_app
    assert not runtime.running
    status, _, _ = wsgi_call(app, "/host/")
    assert status == "200 OK" and runtime.running


def test_wsgi_wrap_refuses_a_big_body_to_the_api_from_its_length(wsgi_app):
    app, _ = wsgi_app
    status, body, _ = wsgi_call(app, "/api/profiling/snapshot", b"x" * (64 * 1024 + 1))
    assert status.startswith("413") and "limit" in json.loads(body)["detail"]
    status, body, _ = wsgi_call(app, "/profiling/login/", headers={"CONTENT_LENGTH": "abc"})
    assert status.startswith("400")


def test_wsgi_wrap_leaves_the_hosts_own_paths_alone(wsgi_app):
    app, _ = wsgi_app
    status, body, _ = wsgi_call(app, "/upload/", b"x" * (200 * 1024))
    assert status == "200 OK" and body == b"host read 204800"


def test_wsgi_wrap_stops_reading_a_chunked_body_at_the_limit(wsgi_app):
    app, _ = wsgi_app
    stream = io.BytesIO(b"y" * (1024 * 1024))
    status, _, _ = wsgi_call(
        app,
        "/api/profiling/leak-detection",
        headers={"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": stream},
    )
    assert status.startswith("413") and stream.tell() == 64 * 1024 + 1
    status, body, environ = wsgi_call(
        app,
        "/api/profiling/leak-detection",
        headers={"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"{}")},
    )
    assert environ["CONTENT_LENGTH"] == "2"


async def test_asgi_wrap_answers_lifespan_starting_and_stopping_the_profiler():
    import profiling.asgi

    runtime = make_runtime()

    async def host_app(scope, receive, send):  # a plain ASGI app stands for Django's handler
        raise AssertionError("lifespan must not reach the host's application")

    app = profiling.asgi.wrap(host_app, start=False, profiler=runtime)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        message = incoming.pop(0)
        if message["type"] == "lifespan.shutdown":
            assert runtime.running  # started by startup, before shutdown arrives
        return message

    async def send(message):
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert not runtime.running


def _call_from(filename: str, func, *args):
    """Call `func(*args)` from a frame whose code claims to live in `filename`."""
    code = compile("result = func(*args)", filename, "exec")
    scope = {"func": func, "args": args}
    exec(code, scope)
    return scope["result"]


def test_gunicorn_master_is_recognised_from_its_arbiter_frame(monkeypatch):
    monkeypatch.setitem(sys.modules, "gunicorn.arbiter", types.ModuleType("gunicorn.arbiter"))
    assert _call_from("/site-packages/gunicorn/arbiter.py", startup.in_gunicorn_master) is True
    # A worker's stack holds the arbiter's frames (it forked the worker) below its own init.
    in_worker = _call_from(
        "/site-packages/gunicorn/arbiter.py",
        lambda: _call_from("/site-packages/gunicorn/workers/base.py", startup.in_gunicorn_master),
    )
    assert in_worker is False
    assert startup.in_gunicorn_master() is False  # pytest is no gunicorn


def test_in_a_preload_master_nothing_starts_and_each_forked_worker_starts_its_own():
    script = textwrap.dedent(
        """
        import os, sys, time
        from profiling import startup
        from profiling.core.config import ProfilingConfig
        from profiling.core.runtime import ProfilingRuntime

        runtime = ProfilingRuntime(ProfilingConfig(memory_interval_secs=0.05))
        startup.in_gunicorn_master = lambda: True   # as when gunicorn --preload imports the app
        startup.autostart(runtime, True)
        master_running = runtime.running
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            deadline = time.monotonic() + 5
            while not runtime.running and time.monotonic() < deadline:
                time.sleep(0.01)
            os.write(write, b"1" if runtime.running else b"0")
            os._exit(0)
        os.waitpid(pid, 0)
        print(master_running, os.read(read, 1).decode(), runtime.running)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "1", "False"], result.stderr

"""What the server refuses before Django reads a request: oversized bodies (ASGI middleware)
and, under Daphne, the server's own answers to malformed requests.

Daphne (Twisted) answers some requests itself, before any ASGI application runs: a bare
`400 Bad Request` with no Content-Type and no body for a header Twisted refuses (a NUL
byte, a line without a colon, too many headers), an HTML page for a header value Daphne
refuses, and "Unknown Status" as the reason phrase of a 429. `adapt_daphne()`, called by
`profiling.asgi.wrap()`, makes those JSON `{"detail": ...}` answers with the standard
reason phrases, so every answer stays inside the API's schema.

Daphne also reads a whole request body (and queues all of it for the application) before
any ASGI middleware sees the request, so a body limit enforced in ASGI alone comes after
the memory is spent. Under Daphne, every `BodySizeLimitMiddleware` is therefore enforced
by the server's request too: a declared Content-Length over the limit is refused with
the JSON 413 as soon as the headers are in, before a byte of the body is read, and a
chunked body is refused, and the connection closed, at the chunk that crosses it.
"""

from __future__ import annotations

import http
import json
import logging
import sys
import types
import weakref
from collections.abc import Callable
from urllib.parse import unquote

logger = logging.getLogger(__name__)

BAD_REQUEST_DETAIL = "Bad request: a malformed request line or header."


def json_error(status: int, detail: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return headers, body


class ServerBodyLimits:
    """The body limits of the live `BodySizeLimitMiddleware`s, for the server to enforce early."""

    def __init__(self):
        self._middlewares: weakref.WeakSet = weakref.WeakSet()

    def add(self, middleware: BodySizeLimitMiddleware) -> None:
        self._middlewares.add(middleware)

    def limit_for(self, path: str) -> int | None:
        """The smallest limit that applies to `path` (without the script prefix), if any."""
        limits = []
        for middleware in list(self._middlewares):
            try:
                if middleware.applies_to(path):
                    limits.append(middleware.max_bytes)
            except Exception:  # e.g. a URLconf that fails to load: the ASGI check still runs
                logger.warning("could not tell whether a body limit applies to %s", path, exc_info=True)
        return min(limits) if limits else None


server_limits = ServerBodyLimits()


def adapt_daphne() -> None:
    """Adapt a running Daphne's own answers (nothing is imported: outside Daphne it does nothing)."""
    twisted_http = sys.modules.get("twisted.web.http")
    if twisted_http is not None:
        _add_reason_phrases(twisted_http)
    daphne_http = sys.modules.get("daphne.http_protocol")
    if daphne_http is not None and not getattr(daphne_http.HTTPFactory, "_riptide_adapted", False):
        _adapt_daphne_http(daphne_http)


def _add_reason_phrases(twisted_http) -> None:
    # ASGI carries a status code only; Twisted's `setResponseCode` looks the phrase up here.
    for status in http.HTTPStatus:
        twisted_http.RESPONSES.setdefault(status.value, status.phrase.encode("ascii"))


def _respond_to_bad_request_and_disconnect(channel) -> None:
    """Twisted's channel-level 400, as JSON (it has no request object to answer with)."""
    headers, body = json_error(400, BAD_REQUEST_DETAIL)
    lines = [b"HTTP/1.1 400 Bad Request", *(name + b": " + value for name, value in headers)]
    channel.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    channel.loseConnection()


def _adapt_daphne_http(daphne_http) -> None:
    factory, request = daphne_http.HTTPFactory, daphne_http.WebRequest
    build_protocol = factory.buildProtocol

    def buildProtocol(self, addr):  # noqa: N802 - Twisted's name
        protocol = build_protocol(self, addr)
        # Twisted wraps the HTTP/1.1 channel in a protocol that could switch to HTTP/2.
        channel = getattr(protocol, "_channel", protocol)
        if channel is not None:
            channel._respondToBadRequestAndDisconnect = types.MethodType(
                _respond_to_bad_request_and_disconnect, channel
            )
        return protocol

    got_length, handle_content_chunk, process = request.gotLength, request.handleContentChunk, request.process

    def gotLength(self, length):  # noqa: N802 - Twisted's name
        # Called once the headers are in, before any of the body is read.
        self._riptide_limit = server_limits.limit_for(_request_path(self))
        self._riptide_received = 0
        self._riptide_refused = False
        if self._riptide_limit is not None and length is not None and length > self._riptide_limit:
            return _refuse_too_large(self, self._riptide_limit)
        return got_length(self, length)

    def handleContentChunk(self, data):  # noqa: N802 - Twisted's name
        if getattr(self, "_riptide_refused", False):
            return None
        limit = getattr(self, "_riptide_limit", None)
        if limit is not None:
            self._riptide_received += len(data)
            if self._riptide_received > limit:
                return _refuse_too_large(self, limit)
        return handle_content_chunk(self, data)

    def process_unless_refused(self):
        if getattr(self, "_riptide_refused", False):
            return None
        return process(self)

    def basic_error(self, status, status_text, body):
        # Daphne's own errors (a refused header value or path, an application that failed
        # or timed out) as JSON instead of its HTML page.
        headers, content = json_error(status, f"{status_text.decode('ascii')}: {body}")
        self.handle_reply({"type": "http.response.start", "status": status, "headers": headers})
        self.handle_reply({"type": "http.response.body", "body": content})

    factory.buildProtocol = buildProtocol
    request.basic_error = basic_error
    request.gotLength = gotLength
    request.handleContentChunk = handleContentChunk
    request.process = process_unless_refused
    factory._riptide_adapted = True


def _request_path(request) -> str:
    """The path a request is for, as the ASGI scope will have it, without Daphne's root path."""
    target = getattr(request.channel, "_path", None) or b"/"
    path = unquote(target.split(b"?", 1)[0].decode("ascii", "replace"))
    root = getattr(getattr(request.channel.factory, "server", None), "root_path", "") or ""
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


def _refuse_too_large(request, limit: int) -> None:
    """Answer the JSON 413 on the connection now, read nothing more, and close it."""
    request._riptide_refused = True
    channel = request.channel
    if channel is None or channel.transport is None:
        return
    channel._send100Continue = lambda: None  # Expect: 100-continue gets the 413 alone
    headers, body = json_error(413, too_large_detail(limit))
    lines = [b"HTTP/1.1 413 Content Too Large", *(name + b": " + value for name, value in headers)]
    channel.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    channel.loseConnection()


def too_large_detail(limit: int) -> str:
    return f"Request body too large: the limit is {limit} bytes."


class BodySizeLimitMiddleware:
    """Buffer at most `max_bytes` of an HTTP body; answer a JSON 413 past that.

    Django's ASGI handler reads the whole body (spilling to disk) before any view
    runs, so the limit is enforced here, from Content-Length when it is given and by
    counting the chunks when it is not.
    """

    def __init__(self, app, max_bytes: int, *, paths: Callable[[], tuple[str, ...]] | None = None):
        """`paths`: the path prefixes it guards, for the server's own early check (None: all)."""
        self.app = app
        self.max_bytes = max_bytes
        self._paths = paths
        server_limits.add(self)
        adapt_daphne()

    def applies_to(self, path: str) -> bool:
        if self._paths is None:
            return True
        prefixes = self._paths()
        return bool(prefixes) and path.startswith(prefixes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await self._refuse(send, 400, "Invalid Content-Length header.")
                if declared > self.max_bytes:
                    return await self._too_large(send)
        messages = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # disconnected
                return None
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                return await self._too_large(send)
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay():
            if messages:
                return messages.pop(0)
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, send):
        return await self._refuse(send, 413, too_large_detail(self.max_bytes))

    @staticmethod
    async def _refuse(send, status: int, detail: str):
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

"""ASGI middleware that refuses oversized request bodies before Django reads them, and
what Daphne needs beside it (the standard reason phrases)."""

from __future__ import annotations

import http
import json
import sys


def adapt_daphne() -> None:
    """Teach a running Daphne the reason phrases Twisted lacks (429 is "Unknown Status" there).

    ASGI carries a status code only; Daphne's request hands it to Twisted's
    `setResponseCode`, which looks the phrase up in its own table. Nothing is imported:
    outside Daphne (Twisted not loaded) this does nothing.
    """
    twisted_http = sys.modules.get("twisted.web.http")
    if twisted_http is None:
        return
    for status in http.HTTPStatus:
        twisted_http.RESPONSES.setdefault(status.value, status.phrase.encode("ascii"))


class BodySizeLimitMiddleware:
    """Buffer at most `max_bytes` of an HTTP body; answer a JSON 413 past that.

    Django's ASGI handler reads the whole body (spilling to disk) before any view
    runs, so the limit is enforced here, from Content-Length when it is given and by
    counting the chunks when it is not.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

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
        return await self._refuse(send, 413, f"Request body too large: the limit is {self.max_bytes} bytes.")

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

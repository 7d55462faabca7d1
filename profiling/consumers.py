"""The live feed's websocket consumer: handshake auth and origin, then the feed's messages."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import validate_host

from profiling.conf import runtime
from profiling.feed import Outlet, feed_for

logger = logging.getLogger(__name__)

MAX_CLIENT_MESSAGE_BYTES = 4096
MAX_CLIENT_ERRORS = 5

CLOSE_PROFILING_UNAVAILABLE = 4503
CLOSE_STALLED = 4408
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def origin_allowed(origin: str) -> bool:
    """Whether an Origin header names one of settings.ALLOWED_HOSTS (scheme http or https)."""
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if ":" in host:  # IPv6 literal: ALLOWED_HOSTS spells it in brackets
        host = f"[{host}]"
    allowed = list(settings.ALLOWED_HOSTS)
    if not allowed and settings.DEBUG:  # as Django itself does for requests
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(host, allowed)


def key_from_scope(scope) -> str | None:
    """The key of the handshake's X-API-Key header or Authorization: Bearer; never the URL."""
    key = _header(scope, b"x-api-key")
    if key is None:
        scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            key = token.strip()
    return key


@database_sync_to_async
def _key_is_usable(key: str) -> bool:
    from profiling.authentication import resolve_api_key

    return resolve_api_key(key) is not None


async def handshake_allowed(scope) -> bool:
    """A usable API key (Origin optional), or a staff session with an allowed Origin."""
    origin = _header(scope, b"origin")
    if origin is not None and not origin_allowed(origin):
        return False
    key = key_from_scope(scope)
    if key is not None:
        return await _key_is_usable(key)
    if origin is None:  # a cookie alone never opens the feed: browsers always send Origin
        return False
    user = scope.get("user")
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def feed_middleware_stack(inner):
    """Channels' AuthMiddlewareStack, but a websocket connection keeps the server's own send.

    Channels' session middleware wraps `send` to save the session and set its cookie on
    `http.response.start`; on a websocket that wrapper only looks at the session, once
    for every message, and the feed sends one message per client per sample. The session
    and the user are resolved into the scope as before.
    """
    from channels.auth import AuthMiddleware
    from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware

    class WebsocketSessionMiddleware(SessionMiddleware):
        async def __call__(self, scope, receive, send):
            if scope["type"] != "websocket":
                return await super().__call__(scope, receive, send)
            wrapper = InstanceSessionWrapper(scope, send)
            await wrapper.resolve_session()
            return await self.inner(wrapper.scope, receive, send)

    return CookieMiddleware(WebsocketSessionMiddleware(AuthMiddleware(inner)))


class LiveFeedConsumer(AsyncWebsocketConsumer):
    """One websocket client of the live feed: hello, history, then every sample and event."""

    # No channel layer per client: the feed fans out in process (the in-memory layer's
    # receive() scans every channel). Other processes' messages (REDIS_URL) arrive through
    # the process's one cross-instance link, which hands them to the feed
    # (profiling/cluster/link.py, feed.deliver_to_current_feed).
    channel_layer_alias = None
    feed = None
    outlet: Outlet | None = None
    errors = 0

    async def connect(self):
        if not await handshake_allowed(self.scope):
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept()
        profiler = runtime()
        if not profiler.running:
            profiler.ensure_running()
        if not profiler.running:
            await self.send_json({"type": "error", "detail": "Profiling is disabled or not running."})
            await self.close(code=CLOSE_PROFILING_UNAVAILABLE)
            return
        feed = feed_for(profiler)
        # The feed's messages go straight to the server's send, not through this
        # consumer's task: see profiling.feed.Outlet (and feed_middleware_stack).
        outlet = feed.new_outlet(self.base_send, on_stalled=self.stalled)
        outlet.offer(feed.hello_text())
        outlet.offer(feed.history_text())
        self.outlet, self.feed = outlet, feed
        feed.subscribe(outlet)

    async def disconnect(self, code):
        if self.feed is not None and self.outlet is not None:
            self.feed.unsubscribe(self.outlet)
        if self.outlet is not None:
            self.outlet.close()

    def stalled(self) -> None:
        """Called by the feed when this client stopped reading: close it."""
        if self.outlet is not None:
            self.outlet.close()
        asyncio.get_running_loop().create_task(self.close(code=CLOSE_STALLED))

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None or text_data is None:
            await self._refuse("Send JSON text messages only.")
            return
        if len(text_data.encode("utf-8")) > MAX_CLIENT_MESSAGE_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self._refuse("The message is not valid JSON.")
            return
        if not isinstance(message, dict) or message.get("type") != "ping":
            await self._refuse('Unknown message; the feed accepts {"type": "ping"}.')
            return
        await self.send_json({"type": "pong", "id": message.get("id") if _small(message.get("id")) else None})

    async def _refuse(self, detail: str) -> None:
        self.errors += 1
        if self.errors >= MAX_CLIENT_ERRORS:
            await self.close(code=CLOSE_POLICY)
            return
        await self.send_json({"type": "error", "detail": detail})

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message, separators=(",", ":")))


def _small(value) -> bool:
    return isinstance(value, int | str) and len(str(value)) <= 64

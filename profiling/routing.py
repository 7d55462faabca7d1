"""The live feed's websocket routes, for a host's own `URLRouter`.

A host with its own `ProtocolTypeRouter` adds `websocket_urlpatterns` to its websocket
routes (behind `AuthMiddlewareStack`, so the dashboard's session is seen); a host with
none uses `profiling.asgi.wrap()`, which builds the router.
"""

from __future__ import annotations

from django.urls import path

from profiling.consumers import LiveFeedConsumer

FEED_PATH = "/ws/profiling/live/"

websocket_urlpatterns = [path(FEED_PATH.lstrip("/"), LiveFeedConsumer.as_asgi())]

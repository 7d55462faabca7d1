"""Per-client, per-endpoint throttles counted atomically in the Django cache.

django-ratelimit does the counting (`cache.add` then the atomic `cache.incr`, in a
fixed window per client whose edge is staggered by a hash of the client's id); the
DRF throttle class turns an exceeded count into a 429 with Retry-After. The client is
the API key or the user, never anything a client can forge (IP, X-Forwarded-For).
"""

from __future__ import annotations

from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle

from profiling.conf import rate_for
from profiling.models import ProfilingAPIKey


def client_id(request) -> str | None:
    """A stable id of the caller: its API key's id or its user's id."""
    if isinstance(request.auth, ProfilingAPIKey):
        return f"key:{request.auth.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and getattr(user, "pk", None) is not None:
        return f"user:{user.pk}"
    return None


class ClientEndpointThrottle(BaseThrottle):
    """Limit each client per endpoint scope (`throttle_scope` on the view, else `default`)."""

    def __init__(self):
        self._wait: int | None = None

    def allow_request(self, request, view) -> bool:
        ident = client_id(request)
        if ident is None:  # unauthenticated requests never get this far
            return True
        scope = getattr(view, "throttle_scope", None) or "default"
        usage = get_usage(
            request,
            group=f"riptide:{scope}",
            key=lambda group, req: ident,
            rate=rate_for(scope),
            increment=True,
        )
        if usage is None or not usage["should_limit"]:
            return True
        self._wait = max(1, int(usage["time_left"]))
        return False

    def wait(self) -> int | None:
        return self._wait

"""Who is calling: an API key (X-API-Key or Authorization: Bearer) or a staff session.

A verified key is remembered for a few seconds (profiling/keycache.py), so a call costs
no query and no hash; an expiry date is checked on every request.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from profiling import keycache
from profiling.models import ProfilingAPIKey

API_KEY_HEADER = "HTTP_X_API_KEY"
MAX_KEY_LENGTH = 200


class APIKeyUser:
    """The user of a request authenticated by an API key."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_active = True

    def __init__(self, api_key: ProfilingAPIKey):
        self.api_key = api_key
        self.pk = None
        self.username = f"api-key:{api_key.name}"

    def __str__(self) -> str:
        return self.username


def key_from_request(request) -> str | None:
    """The key a request carries in X-API-Key or as a Bearer token, if any."""
    key = request.META.get(API_KEY_HEADER)
    if key is None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            key = token.strip()
    return key


def resolve_api_key(key: str) -> ProfilingAPIKey | None:
    """The usable (not revoked, not expired) key matching `key`, compared by hash."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    api_key = keycache.verified_keys.get(key)
    if api_key is None:
        try:
            api_key = ProfilingAPIKey.objects.get_from_key(key)
        except ProfilingAPIKey.DoesNotExist:
            return None
        if not api_key.has_expired:
            keycache.verified_keys.put(key, api_key)
    if api_key.has_expired:
        return None
    return api_key


class APIKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate by API key; a missing or bad key is a 401 with a challenge."""

    def authenticate(self, request):
        key = key_from_request(request)
        if key is None:
            return None
        api_key = resolve_api_key(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        return APIKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'APIKey realm="riptide", header="X-API-Key"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """A logged-in session (the dashboard); CSRF is enforced on unsafe methods."""

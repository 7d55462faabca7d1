"""Who is calling: an API key (X-API-Key or Authorization: Bearer) or a staff session.

Verifying a key costs a database query and a SHA-512 hash, more than a profiling endpoint's
own work; so a verified key is remembered for a few seconds in this process, under a keyed
BLAKE2 digest of the presented key (never the key itself; a per-process random key makes
the digest useless outside the process). A save or delete of any key (a revoke, a new
expiry) and `ProfilingAPIKey.objects...update()` forget every remembered key at once and
bump a generation counter in the Django cache: with a shared cache (REDIS_URL) every
process forgets on its next request; with the local-memory cache, other processes (a
`revoke_api_key` run) are seen within VERIFIED_KEY_TTL_SECS. An expiry date is checked on
every request. docs/security.md states the guarantee.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

from django.core.cache import cache
from rest_framework import authentication, exceptions

from profiling.models import ProfilingAPIKey

API_KEY_HEADER = "HTTP_X_API_KEY"
MAX_KEY_LENGTH = 200
VERIFIED_KEY_TTL_SECS = 5.0
GENERATION_CACHE_KEY = "riptide:api-keys:generation"


class VerifiedKeyCache:
    """Keys verified in the last `ttl` seconds, by keyed digest; bounded, cleared on any change."""

    def __init__(self, ttl: float = VERIFIED_KEY_TTL_SECS, max_entries: int = 1024, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._digest_key = os.urandom(32)
        self._entries: dict[bytes, tuple[float, ProfilingAPIKey]] = {}
        self._generation: int | None = None
        self._lock = threading.Lock()

    def digest(self, key: str) -> bytes:
        return hashlib.blake2b(
            key.encode("utf-8", "surrogatepass"), digest_size=16, key=self._digest_key
        ).digest()

    def get(self, key: str) -> ProfilingAPIKey | None:
        self._follow_generation()
        entry = self._entries.get(self.digest(key))
        if entry is None:
            return None
        verified_at, api_key = entry
        if self._clock() - verified_at >= self.ttl:
            return None
        return api_key

    def put(self, key: str, api_key: ProfilingAPIKey) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[self.digest(key)] = (self._clock(), api_key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _follow_generation(self) -> None:
        """Forget everything when another process changed a key (the shared counter moved)."""
        generation = cache.get(GENERATION_CACHE_KEY, 0)
        if generation != self._generation:
            with self._lock:
                self._entries.clear()
                self._generation = generation

    def __len__(self) -> int:
        return len(self._entries)


verified_keys = VerifiedKeyCache()


def forget_verified_keys() -> None:
    """A key was saved, updated or deleted: no process may trust what it remembers."""
    verified_keys.clear()
    try:
        cache.incr(GENERATION_CACHE_KEY)
    except ValueError:  # not set yet (or evicted): any new value differs from what was read
        cache.set(GENERATION_CACHE_KEY, int(time.time() * 1000), None)


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
    api_key = verified_keys.get(key)
    if api_key is None:
        try:
            api_key = ProfilingAPIKey.objects.get_from_key(key)
        except ProfilingAPIKey.DoesNotExist:
            return None
        if not api_key.has_expired:
            verified_keys.put(key, api_key)
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

"""Verified API keys remembered for a few seconds, by keyed digest, forgotten on any change.

Verifying a key costs a database query and a SHA-512 hash, more than a profiling endpoint's
own work; so a verified key is remembered in this process under a keyed BLAKE2 digest of
the presented key (never the key itself; a per-process random key makes the digest useless
outside the process). A save or delete of any key (a revoke, a new expiry) and a bulk
`update()` of keys forget every remembered key at once and bump a generation counter in the
Django cache: with a shared cache (REDIS_URL) every process forgets on its next request;
with the local-memory cache, other processes (a `revoke_api_key` run) are seen within
VERIFIED_KEY_TTL_SECS. docs/security.md states the guarantee. It imports no model, so the
models can call it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any

from django.core.cache import cache

VERIFIED_KEY_TTL_SECS = 5.0
GENERATION_CACHE_KEY = "riptide:api-keys:generation"


class VerifiedKeyCache:
    """Keys verified in the last `ttl` seconds, by keyed digest; bounded, cleared on any change."""

    def __init__(self, ttl: float = VERIFIED_KEY_TTL_SECS, max_entries: int = 1024, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._digest_key = os.urandom(32)
        self._entries: dict[bytes, tuple[float, Any]] = {}
        self._generation: int | None = None
        self._lock = threading.Lock()

    def digest(self, key: str) -> bytes:
        return hashlib.blake2b(
            key.encode("utf-8", "surrogatepass"), digest_size=16, key=self._digest_key
        ).digest()

    def get(self, key: str) -> Any | None:
        self._follow_generation()
        entry = self._entries.get(self.digest(key))
        if entry is None:
            return None
        verified_at, api_key = entry
        if self._clock() - verified_at >= self.ttl:
            return None
        return api_key

    def put(self, key: str, api_key: Any) -> None:
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

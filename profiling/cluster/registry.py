"""The live instances, kept in Redis: each one's latest sample under a key that expires.

Every instance writes, once per sample, `<prefix>instance:<name>` (JSON: who it is, the
channel that reaches it, its latest sample) with an expiry of a few sampling intervals,
and scores its name in the sorted set `<prefix>instances` with the sample's time. A
reader takes the set's names and the keys in one round trip; a name whose key expired
belongs to an instance that stopped sampling (it stopped, crashed or lost Redis) and is
dropped from the set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

PREFIX = "riptide:cluster:"
# At most this many instances are listed (the newest first); a deployment has far fewer.
MAX_INSTANCES = 256


def record_ttl(interval_secs: float) -> float:
    """Seconds an instance's record outlives its latest sample: three intervals, at least 5 s."""
    return max(3 * interval_secs, 5.0)


class InstanceRegistry:
    """Reads and writes instance records through a `redis.asyncio` client."""

    def __init__(self, client, *, prefix: str = PREFIX, wall_clock: Callable[[], float] = time.time):
        self.client = client
        self.prefix = prefix
        self.wall_clock = wall_clock

    def _key(self, instance: str) -> str:
        return f"{self.prefix}instance:{instance}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}instances"

    async def publish(self, record: dict, ttl_secs: float) -> None:
        """Store `record` (it has `instance` and `unix_time`) as that instance's latest."""
        instance = record["instance"]
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self._key(instance), json.dumps(record, separators=(",", ":")), px=int(ttl_secs * 1000))
            pipe.zadd(self._index, {instance: record["unix_time"]})
            await pipe.execute()

    async def remove(self, instance: str) -> None:
        """Forget an instance at once (it is stopping)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(self._key(instance))
            pipe.zrem(self._index, instance)
            await pipe.execute()

    async def get(self, instance: str) -> dict | None:
        raw = await self.client.get(self._key(instance))
        return json.loads(raw) if raw is not None else None

    async def live(self) -> list[dict]:
        """The records of every instance whose record has not expired, newest sample first."""
        names = await self.client.zrevrange(self._index, 0, MAX_INSTANCES - 1)
        if not names:
            return []
        raws = await self.client.mget([self._key(_text(name)) for name in names])
        records, gone = [], []
        for name, raw in zip(names, raws, strict=True):
            if raw is None:
                gone.append(name)
            else:
                records.append(json.loads(raw))
        if gone:
            await self.client.zrem(self._index, *gone)
        return records


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def describe(record: dict, now: float, this_instance: str) -> dict:
    """The public description of an instance record (GET /api/profiling/instances)."""
    host, _, pid = record["instance"].rpartition(":")
    return {
        "instance": record["instance"],
        "host": record.get("host", host),
        "pid": record.get("pid", int(pid) if pid.isdigit() else None),
        "started_at": record.get("started_at"),
        "last_sample_at": record["sample"]["timestamp"] if record.get("sample") else None,
        # Seconds since its latest sample; null before it has one.
        "age_secs": round(max(0.0, now - record["unix_time"]), 3) if record.get("sample") else None,
        "interval_secs": record.get("interval_secs"),
        "threshold_status": (record.get("sample") or {}).get("memory", {}).get("threshold_status"),
        "this": record["instance"] == this_instance,
    }

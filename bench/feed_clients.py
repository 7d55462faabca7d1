"""Load generator for bench.live_feed: N websocket clients of the live feed, in their own process.

Run by bench.live_feed (`python -m bench.feed_clients URL KEY N WARMUP SECS [INSTANCE]`);
prints one JSON object: the delivery lag (receipt wall time minus the sample's timestamp,
both on this machine's clock) of every sample received during the measured window (only
INSTANCE's samples when given: bench.live_feed_redis measures another process's).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime

from websockets.asyncio.client import connect

MARK = '"timestamp":"'
CONNECT_BATCH = 50


def sample_time(text: str, prefix: str = '{"type":"sample"') -> float | None:
    """The unix time of a sample message's timestamp, without parsing the whole message."""
    if not text.startswith(prefix):
        return None
    start = text.index(MARK) + len(MARK)
    stamp = text[start : text.index('"', start)]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def client(
    url: str, key: str, window: tuple[float, float], lags: list[float], state: dict, prefix: str
) -> None:
    try:
        async with connect(
            url, additional_headers={"X-API-Key": key}, ping_interval=None, max_size=2**24, open_timeout=60
        ) as socket:
            state["connected"] += 1
            async for text in socket:
                received = time.time()
                if received > window[1]:
                    return
                stamp = sample_time(text, prefix)
                if stamp is not None and received >= window[0]:
                    lags.append(received - stamp)
    except Exception as exc:  # counted, reported, never hidden
        state["failed"] += 1
        state["last_error"] = f"{type(exc).__name__}: {exc}"


async def main(
    url: str, key: str, count: int, warmup: float, secs: float, instance: str | None = None
) -> dict:
    prefix = '{"type":"sample"' + (f',"instance":{json.dumps(instance)}' if instance else "")
    lags: list[float] = []
    state = {"connected": 0, "failed": 0, "last_error": None}
    window = [float("inf"), float("inf")]
    tasks = []
    started = time.time()
    for first in range(0, count, CONNECT_BATCH):
        batch = [
            asyncio.create_task(client(url, key, window, lags, state, prefix))
            for _ in range(min(CONNECT_BATCH, count - first))
        ]
        tasks.extend(batch)
        deadline = time.time() + 30
        while state["connected"] + state["failed"] < first + len(batch) and time.time() < deadline:
            await asyncio.sleep(0.02)
    connect_secs = time.time() - started
    window[0] = time.time() + warmup
    window[1] = window[0] + secs
    await asyncio.wait(tasks, timeout=warmup + secs + 30)
    for task in tasks:
        task.cancel()
    return {
        "clients": count,
        "connected": state["connected"],
        "failed": state["failed"],
        "last_error": state["last_error"],
        "connect_secs": round(connect_secs, 2),
        "window": window,
        "cpu_secs": round(time.process_time(), 3),
        "lags": lags,
    }


if __name__ == "__main__":
    url, key, count, warmup, secs = (
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        float(sys.argv[4]),
        float(sys.argv[5]),
    )
    instance = sys.argv[6] if len(sys.argv) > 6 else None
    print(json.dumps(asyncio.run(main(url, key, count, warmup, secs, instance))))

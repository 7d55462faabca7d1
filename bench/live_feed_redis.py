"""Live feed through Redis: another process's samples fanned out to 500 clients of this one.

Two Daphne processes share a Redis channel layer (REDIS_URL) and each samples once a
second. 500 websocket clients connect to the first; for every sample of the *second*
process they receive, the lag from that sample's timestamp (taken in the second process)
to receipt (both on this machine's clock): sampler -> cross-instance link -> Redis group
-> the first process's link -> its live feed -> 500 sockets. The first process's CPU over
the window is reported too (it also fans out its own samples). The bar is the one-process
feed's: p99 under 100 ms at 500 clients.
"""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

import redis

from bench.common import Row
from bench.live_feed import BAR_P99_MS, _measure, _percentile, _raise_fd_limit

# A Redis database of its own: the test suite uses 13.
REDIS_URL = "redis://127.0.0.1:6379/12"
CLIENTS = 500


def run(quick: bool = False) -> list[Row]:
    from tests.servers import DaphneServer

    _raise_fd_limit()
    warmup, secs = (2.0, 8.0) if quick else (3.0, 20.0)
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    client.flushdb()
    env = {"PROFILING_MEMORY_INTERVAL_SECS": "1", "DJANGO_LOG_LEVEL": "WARNING", "REDIS_URL": REDIS_URL}
    try:
        with tempfile.TemporaryDirectory(prefix="riptide-bench-redis-") as workdir:
            with (
                DaphneServer(Path(workdir) / "a", env=env) as first,
                DaphneServer(Path(workdir) / "b", env=env) as second,
            ):
                other = f"{socket.gethostname()}:{second.process.pid}"
                result, cpu_percent = _measure(first, CLIENTS, warmup, secs, instance=other)
    finally:
        client.flushdb()
        client.close()
    lags_ms = [lag * 1000 for lag in result["lags"]]
    detail = (
        f"{result['connected']}/{CLIENTS} clients of the first process, {result['failed']} failed; "
        f"{len(lags_ms)} deliveries of the second process's samples in {secs:g} s"
    )
    if result["last_error"]:
        detail += f"; last error: {result['last_error']}"
    if not lags_ms:
        return [Row(f"feed through Redis, {CLIENTS} clients", "no samples received", ok=False, detail=detail)]
    p50, p99 = _percentile(lags_ms, 0.50), _percentile(lags_ms, 0.99)
    complete = result["connected"] == CLIENTS and result["failed"] == 0
    cpu = "unmeasured" if cpu_percent is None else f"{cpu_percent:.1f} % of one core"
    return [
        Row(
            f"feed through Redis: another process's samples to {CLIENTS} clients",
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            bar=f"p99 < {BAR_P99_MS:g} ms",
            ok=p99 < BAR_P99_MS and complete,
            detail=f"{detail}; the receiving process's CPU {cpu} (its own samples fanned out too)",
        )
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)

"""A small HTTP/1.1 keep-alive load generator (loopback only, bounded in count and time).

Run in its own process so its CPU does not share the harness's GIL:
    python -m bench.load --port 8080 --path /bench/catalogue --requests 2000 --connections 8
prints one JSON line: requests done, non-2xx count, elapsed seconds, latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

MAX_SECONDS = 120.0


async def _worker(host, port, request_bytes, quota, latencies, statuses, deadline):
    """Send requests on one keep-alive connection; open a new one whenever the server closes it
    (gunicorn's sync workers close every connection after its response)."""
    reader = writer = None
    try:
        while quota and time.monotonic() < deadline:
            quota.pop()
            start = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request_bytes)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("the server closed the connection without an answer")
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses.append(int(status_line.split()[1]))
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def run(host, port, path, total, connections, headers):
    header_lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{header_lines}\r\n".encode()
    quota = list(range(total))
    latencies: list[float] = []
    statuses: list[int] = []
    deadline = time.monotonic() + MAX_SECONDS
    start = time.perf_counter()
    await asyncio.gather(
        *(_worker(host, port, request, quota, latencies, statuses, deadline) for _ in range(connections))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else None

    return {
        "requests": len(latencies),
        "errors": sum(1 for s in statuses if not 200 <= s < 300),
        "elapsed": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    result = asyncio.run(
        run(args.host, args.port, args.path, min(args.requests, 100_000), args.connections, headers)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

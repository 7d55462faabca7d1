"""Servers and load for the benchmarks: Daphne processes on loopback, stopped by pid."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psutil

from tests.servers import DaphneServer

ROOT = Path(__file__).resolve().parent.parent

BENCH_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
    "DJANGO_LOG_LEVEL": "WARNING",
    "RIPTIDE_BENCH_WORKLOAD": "true",
    # Limits high enough that the benchmark measures work, not 429s.
    "PROFILING_RATE_DEFAULT": "10000000/m",
    "PROFILING_MEMORY_INTERVAL_SECS": "5",
}


@contextmanager
def servers(arms: dict[str, dict[str, str]]):
    """Start one Daphne server per arm (name -> extra env); yield name -> DaphneServer."""
    with tempfile.TemporaryDirectory(prefix="riptide-bench-") as tmp:
        started: dict[str, DaphneServer] = {}
        try:
            for name, env in arms.items():
                server = DaphneServer(Path(tmp) / name, env={**BENCH_ENV, **env})
                # Daphne's access log costs the same in every arm; keep it out of the figures.
                server.start()
                started[name] = server
            yield started
        finally:
            for server in started.values():
                server.stop()


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def load(server: DaphneServer, path: str, requests: int, connections: int = 8, key: bool = True) -> dict:
    """Run the load generator in its own process against one server; add the server's CPU."""
    cmd = [
        sys.executable,
        "-m",
        "bench.load",
        "--port",
        str(server.port),
        "--path",
        path,
        "--requests",
        str(requests),
        "--connections",
        str(connections),
    ]
    if key:
        cmd += ["--header", f"X-API-Key: {server.api_key}"]
    pid = server.process.pid
    before = cpu_seconds(pid)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, check=True).stdout
    result = json.loads(out)
    result["server_cpu_s"] = cpu_seconds(pid) - before
    result["cpu_ms_per_request"] = 1000 * result["server_cpu_s"] / max(1, result["requests"])
    return result

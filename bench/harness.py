"""Servers and load for the benchmarks: Daphne processes on loopback, stopped by pid."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
    # Every server process hashes strings alike (see same_layout()).
    "PYTHONHASHSEED": "0",
}


@functools.cache
def same_layout() -> list[str]:
    """A command prefix that starts a process without address-space randomisation, if it works here.

    Two processes of the same server with the same settings can differ in CPU per request
    by their hash seeds and memory layouts alone. With one hash seed (PYTHONHASHSEED
    above) and no address randomisation (util-linux's `setarch -R`, the ADDR_NO_RANDOMIZE
    personality), that source is the same for every arm; what is left between two
    processes is what the `layout` benchmark's A/A rows show (docs/BENCHMARKS.md).
    """
    if shutil.which("setarch") is None:
        return []
    try:
        done = subprocess.run(["setarch", "-R", "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return ["setarch", "-R"] if done.returncode == 0 else []


class BenchServer(DaphneServer):
    """Daphne serving the project, started with the same layout as every other bench server."""

    def command(self) -> list[str]:
        return [*same_layout(), *super().command()]


@contextmanager
def servers(arms: dict[str, dict[str, str]], make: Callable[[Path, dict], DaphneServer] | None = None):
    """Start one server per arm (name -> extra env; Daphne unless `make` builds another); yield name -> server."""
    make = make or (lambda workdir, env: BenchServer(workdir, env=env))
    with tempfile.TemporaryDirectory(prefix="riptide-bench-") as tmp:
        started: dict[str, DaphneServer] = {}
        try:
            for name, env in arms.items():
                server = make(Path(tmp) / name, {**BENCH_ENV, **env})
                # Daphne's access log costs the same in every arm; keep it out of the figures.
                server.start()
                started[name] = server
            yield started
        finally:
            for server in started.values():
                server.stop()


class WorkerService(BenchServer):
    """The project served by several worker processes: gunicorn sync workers or uvicorn --workers."""

    def __init__(self, workdir: Path, kind: str, workers: int, env: dict[str, str] | None = None):
        super().__init__(workdir, env=env, startup_timeout=60.0)
        self.kind, self.workers = kind, workers

    def command(self) -> list[str]:
        if self.kind == "gunicorn":
            return [
                *same_layout(), sys.executable, "-m", "gunicorn", "riptide_dashboard.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--worker-class", "sync", "--log-level", "warning",
            ]  # fmt: skip
        return [
            *same_layout(), sys.executable, "-m", "uvicorn", "riptide_dashboard.asgi:application",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip

    def pids(self) -> list[int]:
        """The master and its live worker processes."""
        assert self.process is not None
        master = psutil.Process(self.process.pid)
        return [master.pid, *(child.pid for child in master.children(recursive=True))]

    def cpu_seconds(self) -> float:
        """CPU seconds of the master and every worker alive now."""
        total = 0.0
        for pid in self.pids():
            try:
                total += cpu_seconds(pid)
            except (OSError, psutil.Error):
                pass  # a process that ended between the listing and the read
        return total


def worker_services(arms: dict[str, dict[str, str]], kind: str, workers: int):
    """One multi-worker service per arm (name -> extra env): a context yielding name -> WorkerService."""
    return servers(arms, lambda workdir, env: WorkerService(workdir, kind, workers, env=env))


def process_clock_id(pid: int) -> int:
    """The CPU clock id of another process (Linux: what glibc's clock_getcpuclockid returns).

    include/linux/posix-timers.h: MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED). The clock
    counts the CPU of every thread the process has had, in nanoseconds, where the
    process's utime and stime (psutil) count in clock ticks of 10 ms.
    """
    return (~pid << 3) | 2


def cpu_seconds(pid: int) -> float:
    """A process's user+system CPU seconds: its scheduler clock, else psutil's clock ticks."""
    try:
        return time.clock_gettime(process_clock_id(pid))
    except OSError:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system


def load_command(
    server: DaphneServer, path: str, requests: int, connections: int, key: bool = True
) -> list[str]:
    """The load generator's command line against one server (with its API key, unless `key` is off)."""
    cmd = [
        sys.executable, "-m", "bench.load", "--port", str(server.port), "--path", path,
        "--requests", str(requests), "--connections", str(connections),
    ]  # fmt: skip
    if key:
        cmd += ["--header", f"X-API-Key: {server.api_key}"]
    return cmd


def load(server: DaphneServer, path: str, requests: int, connections: int = 8, key: bool = True) -> dict:
    """Run the load generator in its own process against one server; add the server's CPU."""
    cmd = load_command(server, path, requests, connections, key)
    pid = server.process.pid
    before = cpu_seconds(pid)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, check=True).stdout
    result = json.loads(out)
    result["server_cpu_s"] = cpu_seconds(pid) - before
    result["cpu_ms_per_request"] = 1000 * result["server_cpu_s"] / max(1, result["requests"])
    return result

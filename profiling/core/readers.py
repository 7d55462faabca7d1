"""Readers of the OS figures the samplers use; tests inject fakes with the same methods."""

from __future__ import annotations

import logging
import os
from typing import Protocol

import psutil

from profiling.core.samples import MemoryReading, ProcessCpuTimes, SystemCpuTimes

logger = logging.getLogger(__name__)


class SystemReader(Protocol):
    def memory(self) -> MemoryReading: ...

    def process_cpu(self) -> ProcessCpuTimes: ...

    def system_cpu(self) -> SystemCpuTimes: ...

    def load_average(self) -> tuple[float, float, float] | None: ...


def read_rss_anon(status_path: str) -> int | None:
    """Return RssAnon in bytes from a /proc/<pid>/status file, or None if absent."""
    try:
        with open(status_path, "rb") as status:
            for line in status:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class PsutilReader:
    """Read this process's memory and CPU, and the system's CPU, through psutil and /proc."""

    def __init__(self, pid: int | None = None):
        self.pid = os.getpid() if pid is None else pid
        self._process = psutil.Process(self.pid)
        self._status_path = f"/proc/{self.pid}/status"

    def memory(self) -> MemoryReading:
        info = self._process.memory_info()
        return MemoryReading(
            rss=info.rss,
            vms=info.vms,
            shared=getattr(info, "shared", None),
            anon=read_rss_anon(self._status_path),
        )

    def process_cpu(self) -> ProcessCpuTimes:
        with self._process.oneshot():
            times = self._process.cpu_times()
            threads = self._process.num_threads()
        return ProcessCpuTimes(user=times.user, system=times.system, num_threads=threads)

    def system_cpu(self) -> SystemCpuTimes:
        times = psutil.cpu_times()
        user = times.user + getattr(times, "nice", 0.0)
        system = times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
        idle = times.idle + getattr(times, "iowait", 0.0)
        # guest time is already counted in user on Linux; steal is time taken by the host.
        other = getattr(times, "steal", 0.0)
        return SystemCpuTimes(user=user, system=system, idle=idle, other=other)

    def load_average(self) -> tuple[float, float, float] | None:
        try:
            return os.getloadavg()
        except (AttributeError, OSError):
            return None

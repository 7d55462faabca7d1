"""The memory analysis of one runtime: leak checks, allocation windows, snapshots."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from profiling.core.errors import NotFoundError
from profiling.core.memory import contents
from profiling.core.memory.allocator import read_allocator
from profiling.core.memory.census import CensusTaker
from profiling.core.memory.compare import compare_snapshots
from profiling.core.memory.detector import LeakDetector
from profiling.core.memory.snapshots import FORMAT, SnapshotFile, SnapshotStore
from profiling.core.memory.tracing import AllocationTracker
from profiling.core.periodic import PeriodicWorker
from profiling.core.timefmt import iso_utc

if TYPE_CHECKING:
    from profiling.core.runtime import ProfilingRuntime

logger = logging.getLogger(__name__)


class MemoryAnalysis:
    """Leak detection, allocation tracking and snapshots for one runtime in one process."""

    def __init__(self, runtime: ProfilingRuntime):
        self.runtime = runtime
        config = runtime.config
        self.census = CensusTaker(rss=self._rss, clock=runtime.clock, wall_clock=runtime.wall_clock)
        self.leaks = LeakDetector(
            self.census, interval_secs=config.leak_check_interval_secs, on_report=self._leak_report_done
        )
        self.allocations = AllocationTracker(on_cpu=runtime.charge_cpu)
        self.snapshots = SnapshotStore(
            config.snapshot_dir, config.snapshot_max_count, max_total_bytes=config.snapshot_max_total_bytes
        )
        try:
            self.snapshots.prepare()  # at start: the directory exists, leftover temp files go
        except OSError:
            logger.warning("snapshot directory %s is not usable", config.snapshot_dir, exc_info=True)

    def _rss(self) -> int | None:
        reader = self.runtime.reader
        try:
            return reader.memory().rss if reader is not None else None
        except Exception:
            logger.warning("could not read RSS for the leak check", exc_info=True)
            return None

    def stop(self) -> None:
        """Stop a running allocation window (tests; the server's threads are daemons)."""
        self.allocations.stop()

    # -- leaks -----------------------------------------------------------------------------

    def detect_leaks(self) -> dict:
        """Add a fresh leak check and analyse the history (shared with a concurrent request)."""
        self.runtime.require_running()
        return self.leaks.detect()

    def _leak_report_done(self, report: dict) -> None:
        runtime = self.runtime
        runtime.count("leak_detections")
        runtime.count("leaks_reported", len(report["potential_leaks"]))
        runtime.publish_event({"type": "leak_report", "instance": runtime.instance, **report})

    def latest_leak_report(self) -> dict:
        self.runtime.require_running()
        report = self.leaks.latest()
        if report is None:
            raise NotFoundError(
                "No leak analysis has run yet in this process: POST /api/profiling/leak-detection."
            )
        return report

    # -- allocations -----------------------------------------------------------------------

    def allocations_report(self, wait_secs: float = 0.0) -> dict:
        """The latest allocation window; starts a new one when missing or stale."""
        self.runtime.require_running()
        self.allocations.ensure_fresh()
        if wait_secs > 0:
            self.allocations.wait(wait_secs)
        return self.allocations.report()

    # -- snapshots -------------------------------------------------------------------------

    def create_snapshot(self) -> dict:
        """Write a heap snapshot; answer with its id, path, real size and download URL."""
        runtime = self.runtime
        sampler = runtime.require_running()
        census = self.census()
        components, types = contents.census_rows(census)
        memory = runtime.memory_report()
        cpu = runtime.cpu_report()
        allocator = read_allocator()
        window = self.allocations.report() if self.allocations.latest() is not None else None
        threads = contents.thread_stacks()
        samples = contents.sample_rows(sampler.history())

        def build(snapshot_id: str, timestamp: float) -> dict:
            return {
                "format": FORMAT,
                "snapshot_id": snapshot_id,
                "timestamp": iso_utc(timestamp),
                "unix_time": timestamp,
                "instance": runtime.instance,
                "process": contents.process_info(),
                "memory": memory,
                "cpu": cpu,
                "allocator": None
                if allocator is None
                else {
                    **allocator.as_dict(),
                    "fragmentation_percent": allocator.fragmentation_percent,
                    "efficiency_score": allocator.efficiency_score,
                },
                "allocations": window,
                "allocations_note": None
                if window is not None
                else "No allocation window has run yet: GET /api/profiling/allocations starts one.",
                "objects_total": census.objects_total,
                "components": components,
                "types": types,
                "threads": threads,
                "recent_samples": samples,
                "leak_report": self.leaks.latest(),
            }

        written, timestamp = self.snapshots.write(build)
        response = {
            "timestamp": iso_utc(timestamp),
            "snapshot_id": written.snapshot_id,
            "file_path": str(written.path),
            "size_bytes": written.size_bytes,
            "status": "completed",
        }
        runtime.count("snapshots")
        runtime.publish_event({"type": "snapshot", "instance": runtime.instance, **response})
        return response

    def list_snapshots(self) -> dict:
        self.runtime.require_running()
        files = self.snapshots.list()
        return {
            "count": len(files),
            "max_count": self.snapshots.max_count,
            "snapshots": [self.snapshots.describe(f) for f in reversed(files)],
        }

    def snapshot_file(self, snapshot_id: str) -> SnapshotFile:
        self.runtime.require_running()
        return self.snapshots.get(snapshot_id)

    def compare_snapshots(self, before_id: str, after_id: str) -> dict:
        self.runtime.require_running()
        return compare_snapshots(self.snapshots.load(before_id), self.snapshots.load(after_id))


class LeakCheckWorker(PeriodicWorker):
    """Add a census to the leak history every PROFILING_LEAK_CHECK_INTERVAL_SECS."""

    thread_name = "riptide-leak-checks"

    def __init__(self, detector: LeakDetector, interval: float):
        super().__init__(interval)
        self.detector = detector

    def on_start(self) -> None:
        self.detector.check(analyse=False)  # the baseline the first interval is compared with

    def tick(self) -> None:
        self.detector.check()


def memory_analysis(runtime: ProfilingRuntime) -> MemoryAnalysis:
    """The runtime's memory analysis in this process (a forked child gets its own)."""
    return runtime.component(MemoryAnalysis)


def leak_check_worker(runtime: ProfilingRuntime) -> LeakCheckWorker:
    """The background leak checks (one of profiling.core.assembly's default workers)."""
    return LeakCheckWorker(memory_analysis(runtime).leaks, runtime.config.leak_check_interval_secs)

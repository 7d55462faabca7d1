"""Prometheus exposition of the runtime's latest figures (read at scrape time)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

from profiling.cluster import link_of
from profiling.core.endpoints.requests import HISTOGRAM_BOUNDS, Cumulative
from profiling.core.endpoints.routes import OTHER, Route
from profiling.core.runtime import ProfilingRuntime
from profiling.feed import current_feed
from profiling.settings import profiling_settings

MIB = 1024 * 1024


def is_public() -> bool:
    return bool(profiling_settings.METRICS_PUBLIC)


class RuntimeCollector:
    """Gauges and counters from a profiling runtime; no label with unbounded values."""

    def __init__(self, runtime: ProfilingRuntime):
        self.runtime = runtime

    def collect(self):
        runtime = self.runtime
        sampler = runtime.system_sampler if runtime.running else None
        sample = sampler.latest() if sampler is not None else None
        if sample is not None:
            memory = runtime.sample_message(sample)["memory"]
            yield GaugeMetricFamily("riptide_memory_rss_bytes", "Resident set size.", value=sample.memory.rss)
            if sample.memory.anon is not None:
                yield GaugeMetricFamily(
                    "riptide_memory_heap_bytes",
                    "Anonymous resident memory (RssAnon).",
                    value=sample.memory.anon,
                )
            yield GaugeMetricFamily(
                "riptide_memory_virtual_bytes", "Virtual memory size.", value=sample.memory.vms
            )
            growth = memory["growth_rate_mb_per_sec"]
            if growth is not None:
                yield GaugeMetricFamily(
                    "riptide_memory_growth_rate_bytes_per_second",
                    "Least-squares slope of RSS over the recent samples.",
                    value=growth * MIB,
                )
            yield GaugeMetricFamily(
                "riptide_cpu_usage_percent",
                "System CPU use over the last interval.",
                value=sample.cpu.usage_percent,
            )
            yield GaugeMetricFamily(
                "riptide_process_cpu_percent",
                "This process's CPU over the last interval (100 = one core).",
                value=sample.cpu.process_cpu_percent,
            )
            status = GaugeMetricFamily(
                "riptide_memory_threshold_status",
                "1 for the current threshold status, 0 for the others.",
                labels=["status"],
            )
            for name in ("normal", "warning", "critical"):
                status.add_metric([name], 1.0 if memory["threshold_status"] == name else 0.0)
            yield status
        # One read per scrape: the counter and the overhead ratio give the same figure.
        profiler_seconds = runtime.profiler_cpu_seconds() if runtime.running else None
        if profiler_seconds is not None:
            yield CounterMetricFamily(
                "riptide_profiler_cpu_seconds",
                "CPU seconds the profiler used in this process: its threads and its work on others.",
                value=profiler_seconds,
            )
            by_worker = CounterMetricFamily(
                "riptide_profiler_worker_cpu_seconds",
                "CPU seconds of each profiler thread (its own clock); `charged`: its work on other threads.",
                labels=["worker"],
            )
            for name, worker in runtime.workers.items():
                by_worker.add_metric([name], worker.cpu_seconds)
            by_worker.add_metric(["charged"], runtime.charged_cpu_seconds)
            yield by_worker
            skipped = sum(getattr(worker, "skipped_ticks", 0) for worker in runtime.workers.values())
            yield CounterMetricFamily(
                "riptide_sampler_skipped_ticks",
                "Stack sampler ticks skipped to keep its CPU within PROFILING_SAMPLER_MAX_CPU_PERCENT.",
                value=skipped,
            )
        overhead = runtime.overhead_ratio(profiler_seconds) if profiler_seconds is not None else None
        if overhead is not None:
            yield GaugeMetricFamily(
                "riptide_profiling_overhead_ratio",
                "CPU time of the profiler's threads over the whole process's CPU time.",
                value=overhead,
            )
        yield GaugeMetricFamily(
            "riptide_profiling_enabled",
            "1 when the profiler runs in this process.",
            value=1.0 if runtime.running else 0.0,
        )
        counters = runtime.counters
        for name, help_text in (
            ("leak_detections", "Leak detection analyses run."),
            ("leaks_reported", "Potential leaks reported by leak detection."),
            ("snapshots", "Heap snapshots written."),
        ):
            yield CounterMetricFamily(f"riptide_{name}", help_text, value=counters.get(name, 0))
        errors = sum(worker.error_count for worker in runtime.workers.values())
        yield CounterMetricFamily(
            "riptide_profiler_errors", "Errors inside the profiler's workers.", value=errors
        )
        yield from _feed_counters()
        yield from _link_counters(runtime)
        yield from _request_metrics(runtime)


def _feed_counters():
    """The live feed of this process (zero before a client ever connected)."""
    feed = current_feed()
    for name, attribute, help_text in (
        ("riptide_feed_messages_sent", "sent", "Live feed messages handed to a client's queue."),
        (
            "riptide_feed_messages_dropped",
            "dropped",
            "Live feed messages a client missed because its queue was full.",
        ),
        (
            "riptide_feed_clients_stalled",
            "disconnected_stalled",
            "Live feed clients disconnected because they stopped reading.",
        ),
    ):
        yield CounterMetricFamily(name, help_text, value=getattr(feed, attribute, 0) if feed else 0)


def _link_counters(runtime: ProfilingRuntime):
    """The cross-instance link (REDIS_URL); zero without one."""
    link = link_of(runtime)
    for name, attribute, help_text in (
        (
            "riptide_cluster_messages_published",
            "published",
            "Samples and events this instance published to the other instances.",
        ),
        (
            "riptide_cluster_messages_received",
            "received",
            "Samples and events received from the other instances.",
        ),
        (
            "riptide_cluster_messages_dropped",
            "dropped",
            "Samples and events not published because the outbox to Redis was full.",
        ),
    ):
        yield CounterMetricFamily(name, help_text, value=getattr(link, attribute, 0) if link else 0)


# The `le` labels of the request duration histogram, as prometheus_client's own Histogram writes them.
_BUCKET_BOUNDS = tuple(floatToGoString(bound) for bound in HISTOGRAM_BOUNDS) + ("+Inf",)
_REQUEST_LABELS = ["route", "method"]


def _route_labels(route: Route | None) -> tuple[str, str]:
    """(route, method) of a route: its URL pattern and HTTP method, or unmatched/other and ""."""
    if route is None:  # an id outside the table (every label taken): summed with the others
        return (OTHER, "")
    return (route.route or route.endpoint, route.method or "")


def _request_metrics(runtime: ProfilingRuntime):
    """Requests per route since this process started serving them (profiling/core/endpoints).

    Nothing while the endpoint tracker is off. The scrape aggregates the requests not yet
    drained, so it counts every request that ended before it. The labels are bounded by the
    route table (at most MAX_ROUTES (method, pattern) pairs, then unmatched and other);
    unmatched and other sum every method, their `method` is empty. This process's figures
    only: the other instances publish their samples, not their requests.
    """
    tracker = runtime.endpoints
    if not tracker.enabled:
        return
    tracker.drain()
    routes = tracker.routes.routes
    merged: dict[tuple[str, str], Cumulative] = {}
    for route_id, figures in tracker.requests.totals().items():
        if figures.requests == 0:
            continue
        # Two ids may read as one series (other): their figures are summed.
        total = merged.setdefault(_route_labels(routes.get(route_id)), Cumulative())
        total.requests += figures.requests
        total.errors += figures.errors
        total.seconds += figures.seconds
        total.buckets = [a + b for a, b in zip(total.buckets, figures.buckets, strict=True)]
    requests = CounterMetricFamily(
        "riptide_http_requests",
        "HTTP requests this process answered since it started, by URL pattern (or unmatched, other)"
        " and method.",
        labels=_REQUEST_LABELS,
    )
    errors = CounterMetricFamily(
        "riptide_http_request_errors",
        "HTTP requests this process answered with a 5xx (or that failed without an answer) since it started.",
        labels=_REQUEST_LABELS,
    )
    durations = HistogramMetricFamily(
        "riptide_http_request_duration_seconds",
        "Durations of the HTTP requests this process answered since it started, until the"
        " application returned.",
        labels=_REQUEST_LABELS,
    )
    for labels in sorted(merged):
        total = merged[labels]
        requests.add_metric(labels, total.requests)
        errors.add_metric(labels, total.errors)
        running, cumulative = 0, []
        for bound, in_bucket in zip(_BUCKET_BOUNDS, total.buckets, strict=True):
            running += in_bucket
            cumulative.append((bound, running))
        durations.add_metric(labels, cumulative, sum_value=total.seconds)
    yield requests
    yield errors
    yield durations


_registries: dict[int, CollectorRegistry] = {}


def registry_for(runtime: ProfilingRuntime) -> CollectorRegistry:
    registry = _registries.get(id(runtime))
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(RuntimeCollector(runtime))
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        _registries.clear()  # one runtime per process; tests swap them
        _registries[id(runtime)] = registry
    return registry


def exposition(runtime: ProfilingRuntime, accept_header: str) -> tuple[bytes, str]:
    """Render the metrics in the format the scraper asked for."""
    encoder, content_type = choose_encoder(accept_header)
    return encoder(registry_for(runtime)), content_type


class InstancesCollector:
    """Every live instance's latest published sample, one series per instance (`instance` label).

    The label's values are bounded by the live instances the registry lists. Memory figures
    come from the samples' MiB values (rounded to the KiB).
    """

    def __init__(self, records: list[dict]):
        self.records = records

    def collect(self):
        families = {
            "rss": GaugeMetricFamily("riptide_memory_rss_bytes", "Resident set size.", labels=["instance"]),
            "heap": GaugeMetricFamily(
                "riptide_memory_heap_bytes", "Anonymous resident memory (RssAnon).", labels=["instance"]
            ),
            "virtual": GaugeMetricFamily(
                "riptide_memory_virtual_bytes", "Virtual memory size.", labels=["instance"]
            ),
            "growth": GaugeMetricFamily(
                "riptide_memory_growth_rate_bytes_per_second",
                "Least-squares slope of RSS over the recent samples.",
                labels=["instance"],
            ),
            "cpu": GaugeMetricFamily(
                "riptide_cpu_usage_percent", "System CPU use over the last interval.", labels=["instance"]
            ),
            "process": GaugeMetricFamily(
                "riptide_process_cpu_percent",
                "The instance's CPU over the last interval (100 = one core).",
                labels=["instance"],
            ),
            "status": GaugeMetricFamily(
                "riptide_memory_threshold_status",
                "1 for the current threshold status, 0 for the others.",
                labels=["instance", "status"],
            ),
        }
        for record in self.records:
            sample = record.get("sample") or {}
            memory, cpu = sample.get("memory") or {}, sample.get("cpu") or {}
            name = [record["instance"]]
            for key, field in (("rss", "rss_mb"), ("heap", "heap_mb"), ("virtual", "virtual_mb")):
                if memory.get(field) is not None:
                    families[key].add_metric(name, memory[field] * MIB)
            if memory.get("growth_rate_mb_per_sec") is not None:
                families["growth"].add_metric(name, memory["growth_rate_mb_per_sec"] * MIB)
            if cpu.get("cpu_usage_percent") is not None:
                families["cpu"].add_metric(name, cpu["cpu_usage_percent"])
            if (cpu.get("process") or {}).get("cpu_percent") is not None:
                families["process"].add_metric(name, cpu["process"]["cpu_percent"])
            if memory.get("threshold_status"):
                for status in ("normal", "warning", "critical"):
                    families["status"].add_metric(
                        name + [status], 1.0 if memory["threshold_status"] == status else 0.0
                    )
        yield from families.values()


def instances_exposition(records: list[dict], accept_header: str) -> tuple[bytes, str]:
    """Every instance's series, labelled by instance, in the format the scraper asked for."""
    encoder, content_type = choose_encoder(accept_header)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(InstancesCollector(records))
    return encoder(registry), content_type

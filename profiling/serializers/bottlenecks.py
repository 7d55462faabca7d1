"""Query parameters and response shapes of the bottlenecks and flame graph endpoints."""

from rest_framework import serializers

from profiling.serializers.history import TimeRangeQuery


class BottlenecksQuerySerializer(TimeRangeQuery):
    window = serializers.IntegerField(
        min_value=1, max_value=600, default=60, help_text="Seconds of samples to analyse (1..600)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10, help_text="Hotspots (1..100).")
    scope = serializers.ChoiceField(
        choices=["app", "all"],
        default="app",
        help_text="app: innermost application frame (not stdlib/site-packages); all: leaf frame.",
    )
    endpoint = serializers.CharField(
        required=False,
        max_length=300,
        help_text="Only the samples of this endpoint's requests: an `endpoint` id from "
        "GET /api/profiling/endpoints (e.g. `GET /api/items/<int:pk>`, `background`).",
    )


class FlamegraphQuerySerializer(TimeRangeQuery):
    window = serializers.IntegerField(min_value=1, max_value=600, default=60)
    format = serializers.ChoiceField(
        choices=["collapsed", "json", "pprof", "speedscope"],
        default="json",
        help_text="collapsed: `a;b;c 12` lines (text/plain, flamegraph.pl/speedscope); json: a tree; "
        "pprof: a gzipped pprof profile to download (profile.pb.gz: go tool pprof, Grafana Pyroscope); "
        "speedscope: a speedscope file to download (profile.speedscope.json, https://www.speedscope.app).",
    )
    endpoint = serializers.CharField(
        required=False,
        max_length=300,
        help_text="Only the samples of this endpoint's requests: an `endpoint` id from "
        "GET /api/profiling/endpoints (e.g. `GET /api/items/<int:pk>`, `background`).",
    )


class HotspotSerializer(serializers.Serializer):
    function_name = serializers.CharField(help_text="module.qualname")
    file_location = serializers.CharField(help_text="Relative to its sys.path entry or the project.")
    line_number = serializers.IntegerField(help_text="The function's definition line.")
    cpu_time_percent = serializers.FloatField(
        help_text="Share of on-CPU samples attributed to it (samples that found its thread running)."
    )
    wall_time_percent = serializers.FloatField(help_text="Share of busy time (on or off CPU, idle excluded).")
    call_count = serializers.IntegerField(
        help_text="Exact with PROFILING_FULL on Python 3.12+, else distinct calls the sampler saw, "
        "one per frame (a lower bound)."
    )
    average_duration_us = serializers.FloatField(allow_null=True)
    impact_score = serializers.FloatField(help_text="0..1: (cpu share + wall share) / 2.")
    samples = serializers.IntegerField(help_text="Busy samples attributed to it.")


class BottlenecksSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    analysis_duration_ms = serializers.FloatField()
    window_secs = serializers.FloatField(help_text="Seconds the samples actually span (bucket-aligned).")
    scope = serializers.ChoiceField(choices=["app", "all"])
    sample_hz = serializers.FloatField(help_text="The configured sampling rate (PROFILING_SAMPLE_HZ).")
    achieved_sample_hz = serializers.FloatField(
        allow_null=True,
        help_text="Ticks the sampler really took per second over the window (it waits for the GIL "
        "on a busy process); null before the first tick.",
    )
    hotspots = HotspotSerializer(many=True)
    total_samples = serializers.IntegerField(
        help_text="Thread samples in the window: busy + idle + unmeasured + discarded."
    )
    busy_samples = serializers.IntegerField(
        help_text="Samples of a thread doing work, on the CPU or off it (I/O, locks); each stands for one tick."
    )
    idle_samples = serializers.IntegerField(
        help_text="Samples of a thread in a standard wait (event loop polling, idle pool, sleep): never hotspots."
    )
    unmeasured_samples = serializers.IntegerField(
        help_text="Samples whose thread's CPU clock could not be read (the thread ended meanwhile, or no "
        "per-thread clocks on this platform): neither busy nor idle."
    )
    discarded_samples = serializers.IntegerField(
        help_text="Samples that stand for no time: the sampler's first tick (baselines only) and ticks "
        "whose clock did not advance."
    )
    cpu_bound_percent = serializers.FloatField(allow_null=True)
    io_bound_percent = serializers.FloatField(allow_null=True)
    memory_bound_percent = serializers.FloatField(
        allow_null=True, help_text="Share of busy time spent in garbage collection (gc.callbacks)."
    )
    gc_seconds = serializers.FloatField()
    call_count_exact = serializers.BooleanField()
    recommendations = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_null=True)


class FlameNodeSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="module.qualname of the frame; `all` at the root.")
    value = serializers.IntegerField(help_text="Busy samples in this frame and below.")
    children = serializers.ListField(child=serializers.DictField(), help_text="FlameNode children.")


class FlamegraphSerializer(FlameNodeSerializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    window_secs = serializers.FloatField()
    sample_hz = serializers.FloatField()
    unit = serializers.CharField()


class EndpointsQuerySerializer(TimeRangeQuery):
    window = serializers.IntegerField(
        min_value=1, max_value=600, default=60, help_text="Seconds of samples and requests (1..600)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=300, default=20, help_text="Routes (1..300).")


class EndpointHotspotSerializer(serializers.Serializer):
    function_name = serializers.CharField(help_text="module.qualname")
    file_location = serializers.CharField()
    line_number = serializers.IntegerField()
    cpu_time_percent = serializers.FloatField(help_text="Share of the route's on-CPU samples.")
    wall_time_percent = serializers.FloatField(help_text="Share of the route's busy time.")
    samples = serializers.IntegerField()


class LatencySerializer(serializers.Serializer):
    p50 = serializers.FloatField(
        allow_null=True, help_text="Milliseconds (within 1 %); null without requests."
    )
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)


class EndpointSerializer(serializers.Serializer):
    endpoint = serializers.CharField(
        help_text="`METHOD /route` (the URL pattern), or background (no request), unmatched (no route "
        "matched), other (past the cap on routes); pass it as ?endpoint= to bottlenecks and flamegraph."
    )
    method = serializers.CharField(allow_null=True)
    route = serializers.CharField(allow_null=True, help_text="The URL pattern, with a leading slash.")
    name = serializers.CharField(allow_null=True, help_text="The URL pattern's name (namespace:name).")
    requests = serializers.IntegerField(
        allow_null=True,
        help_text="Requests that ended in the window; null for a from/to window older than the request "
        "log's 600 s.",
    )
    errors = serializers.IntegerField(
        allow_null=True, help_text="Of which answered 5xx (or failed with no answer)."
    )
    latency_ms = LatencySerializer()
    cpu_ms_per_request = serializers.FloatField(
        allow_null=True, help_text="The route's sampled CPU time over its requests; null without requests."
    )
    busy_time_percent = serializers.FloatField(help_text="Share of the process's busy thread time.")
    cpu_time_percent = serializers.FloatField(help_text="Share of the process's sampled on-CPU time.")
    samples = serializers.IntegerField(help_text="Busy samples of the route's requests.")
    hotspots = EndpointHotspotSerializer(many=True)


class EndpointsSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    analysis_duration_ms = serializers.FloatField()
    window_secs = serializers.FloatField()
    sample_hz = serializers.FloatField()
    busy_samples = serializers.IntegerField()
    endpoints = EndpointSerializer(many=True, help_text="Sorted by share of busy time.")
    note = serializers.CharField(allow_null=True)

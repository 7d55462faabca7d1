"""Response shapes of the allocation, leak detection and snapshot endpoints."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(
    {
        "type": "array",
        "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "minItems": 2,
        "maxItems": 2,
        "example": ["myapp.views.report", 1048576],
    }
)
class AllocatorPairField(serializers.ListField):
    """[function_name, bytes]."""


class SizeDistributionSerializer(serializers.Serializer):
    small_0_1kb = serializers.IntegerField(help_text="Live blocks under 1 KiB.")
    medium_1_100kb = serializers.IntegerField(help_text="Live blocks of 1 KiB to 100 KiB.")
    large_100kb_1mb = serializers.IntegerField(help_text="Live blocks of 100 KiB to 1 MiB.")
    huge_1mb_plus = serializers.IntegerField(help_text="Live blocks of 1 MiB or more.")


class AllocationLocationSerializer(serializers.Serializer):
    function_name = serializers.CharField()
    file = serializers.CharField()
    line_number = serializers.IntegerField()
    bytes = serializers.IntegerField(
        help_text="Live bytes allocated at this line during the window, at the one snapshot where it held the most."
    )
    blocks = serializers.IntegerField(help_text="Live blocks of this line at that same snapshot.")


class AllocatorFiguresSerializer(serializers.Serializer):
    arena_bytes = serializers.IntegerField()
    mmapped_bytes = serializers.IntegerField()
    in_use_bytes = serializers.IntegerField()
    free_bytes = serializers.IntegerField()
    releasable_bytes = serializers.IntegerField()


class AllocationsSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["collecting", "ready", "stale"],
        help_text="collecting: no window has completed yet (figures null, see retry_after_secs); "
        "stale: the figures are older than the stale limit and a new window is collecting.",
    )
    collecting = serializers.BooleanField(help_text="A tracing window is running now.")
    window_started_at = serializers.CharField(allow_null=True)
    window_duration_secs = serializers.FloatField(allow_null=True)
    window_age_secs = serializers.FloatField(allow_null=True, help_text="Seconds since the window ended.")
    retry_after_secs = serializers.FloatField(allow_null=True, help_text="When the running window ends.")
    top_allocators = serializers.ListField(
        child=AllocatorPairField(),
        help_text="[function_name, bytes], biggest first: the most live bytes the function's lines held "
        "together at any one of the window's snapshots (allocated during the window, still alive then).",
    )
    top_locations = AllocationLocationSerializer(many=True)
    size_distribution = SizeDistributionSerializer(
        allow_null=True, help_text="Live blocks by size; each bucket the most it held at any one snapshot."
    )
    traced_peak_bytes = serializers.IntegerField(
        allow_null=True,
        help_text="tracemalloc's peak of traced memory during the window (get_traced_memory), the window's "
        "own snapshots left out: memory allocated during the window at its highest, freed or not. "
        "Null before the first window, or when someone else's tracing was running.",
    )
    efficiency_score = serializers.FloatField(
        allow_null=True, help_text="(uordblks + hblkhd) / (arena + hblkhd) from glibc mallinfo2."
    )
    fragmentation_percent = serializers.FloatField(
        allow_null=True, help_text="100 * (fordblks - keepcost) / arena from glibc mallinfo2."
    )
    allocator = AllocatorFiguresSerializer(allow_null=True)
    recommendations = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_null=True)


class PotentialLeakSerializer(serializers.Serializer):
    component = serializers.CharField(
        help_text="Who holds the growing memory, by its path from a module global: module.attribute, "
        "with .attr for an instance attribute and [i] or ['key'] for an element "
        "(e.g. myapp.store._registry[0].entries)."
    )
    allocation_count = serializers.IntegerField(help_text="Items in the container at the latest check.")
    total_size_bytes = serializers.IntegerField(help_text="Approximate bytes held (sampled element sizes).")
    average_size_bytes = serializers.FloatField()
    growth_rate_mb_per_hour = serializers.FloatField()
    severity = serializers.ChoiceField(choices=["low", "medium", "high", "critical"])
    first_seen = serializers.CharField(help_text="The first check that showed the growth.")
    last_seen = serializers.CharField(help_text="The latest check that showed the growth.")
    checks_fitted = serializers.IntegerField()
    pattern = serializers.ChoiceField(choices=["steady", "accelerating"])


class LeakReportSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    trigger = serializers.ChoiceField(
        choices=["request", "background"],
        help_text="What made this report: a POST (request) or a periodic leak check (background). "
        "GET answers the newest, whichever made it.",
    )
    analysis_duration_ms = serializers.FloatField()
    census_duration_ms = serializers.FloatField()
    checks_analyzed = serializers.IntegerField()
    history_secs = serializers.FloatField()
    first_check = serializers.CharField(allow_null=True)
    last_check = serializers.CharField(allow_null=True)
    components_tracked = serializers.IntegerField()
    objects_tracked = serializers.IntegerField(allow_null=True)
    objects_walked = serializers.IntegerField(
        help_text="Objects the latest census examined walking from module globals (budgeted)."
    )
    walk_truncated = serializers.BooleanField(
        help_text="The latest census walk stopped at its budget: deeper containers were not measured."
    )
    components_skipped = serializers.IntegerField(
        help_text="Containers the latest census found but could not measure (len() or iteration failed)."
    )
    rss_growth_rate_mb_per_hour = serializers.FloatField(allow_null=True)
    potential_leaks = PotentialLeakSerializer(many=True)
    growth_rate_mb_per_hour = serializers.FloatField(
        allow_null=True, help_text="Sum of the potential leaks' rates; null with too little history."
    )
    highest_risk_component = serializers.CharField(allow_null=True)
    suspicious_patterns = serializers.ListField(child=serializers.CharField())
    recommendations = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_null=True)


class SnapshotSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    snapshot_id = serializers.CharField()
    file_path = serializers.CharField()
    size_bytes = serializers.IntegerField(help_text="The file's real size.")
    status = serializers.ChoiceField(choices=["completed"])
    download_url = serializers.CharField()


class SnapshotEntrySerializer(serializers.Serializer):
    snapshot_id = serializers.CharField()
    file_path = serializers.CharField()
    size_bytes = serializers.IntegerField()
    created_at = serializers.CharField()
    download_url = serializers.CharField()


class SnapshotListSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    count = serializers.IntegerField()
    max_count = serializers.IntegerField()
    snapshots = SnapshotEntrySerializer(many=True, help_text="Newest first.")


class GrowthRowSerializer(serializers.Serializer):
    count_before = serializers.IntegerField()
    count_after = serializers.IntegerField()
    count_delta = serializers.IntegerField()
    size_bytes_before = serializers.IntegerField()
    size_bytes_after = serializers.IntegerField()
    size_delta_bytes = serializers.IntegerField()


class ComponentGrowthSerializer(GrowthRowSerializer):
    component = serializers.CharField()


class TypeGrowthSerializer(GrowthRowSerializer):
    type = serializers.CharField()


class SnapshotCompareSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    from_snapshot = serializers.CharField()
    to_snapshot = serializers.CharField()
    from_timestamp = serializers.CharField(allow_null=True)
    to_timestamp = serializers.CharField(allow_null=True)
    elapsed_secs = serializers.FloatField(allow_null=True)
    rss_delta_mb = serializers.FloatField(allow_null=True)
    components = ComponentGrowthSerializer(many=True)
    types = TypeGrowthSerializer(many=True)
    summary = serializers.ListField(child=serializers.CharField())

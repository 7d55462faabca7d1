"""Response shapes of the memory and CPU endpoints."""

from rest_framework import serializers


class MemorySerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField(help_text="When measured: ISO 8601 UTC, milliseconds, Z.")
    rss_mb = serializers.FloatField(help_text="Resident set size, MiB.")
    heap_mb = serializers.FloatField(
        allow_null=True, help_text="Anonymous resident memory (RssAnon: heap, arenas, anonymous mmaps), MiB."
    )
    virtual_mb = serializers.FloatField(help_text="Virtual memory size, MiB.")
    resident_mb = serializers.FloatField(help_text="Same as rss_mb.")
    shared_mb = serializers.FloatField(
        allow_null=True, help_text="Resident shared (file-backed) memory, MiB."
    )
    growth_rate_mb_per_sec = serializers.FloatField(
        allow_null=True,
        help_text="Least-squares slope of RSS over the last 60 s of samples; null before two samples exist.",
    )
    growth_window_secs = serializers.FloatField(help_text="Seconds the growth rate was fitted over.")
    threshold_status = serializers.ChoiceField(choices=["normal", "warning", "critical"])
    warnings = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_null=True)


class LoadAverageSerializer(serializers.Serializer):
    one_min = serializers.FloatField()
    five_min = serializers.FloatField()
    fifteen_min = serializers.FloatField()


class ProcessCpuSerializer(serializers.Serializer):
    cpu_percent = serializers.FloatField(help_text="As top shows it: 100 = one core busy, over the interval.")
    user_seconds = serializers.FloatField()
    system_seconds = serializers.FloatField()
    num_threads = serializers.IntegerField()


class CpuSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    cpu_usage_percent = serializers.FloatField(help_text="System-wide, over the last sampling interval.")
    user_time_percent = serializers.FloatField()
    system_time_percent = serializers.FloatField()
    idle_time_percent = serializers.FloatField()
    load_average = LoadAverageSerializer(allow_null=True)
    available = serializers.BooleanField(
        help_text="Whether the CPU figures were measured over this interval: false when the interval "
        "had no length (no sample yet, measured at once) or the system's CPU clocks did not advance; "
        "the percentages are then placeholders."
    )
    interval_secs = serializers.FloatField(help_text="Seconds the percentages were measured over.")
    process = ProcessCpuSerializer()
    note = serializers.CharField(allow_null=True)


class SampleMemorySerializer(MemorySerializer):
    instance = None  # the sample names its instance once


class SampleCpuSerializer(CpuSerializer):
    instance = None


class SampleMessageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["sample"])
    instance = serializers.CharField(help_text="host:pid of the process that measured it.")
    timestamp = serializers.CharField(help_text="When measured: ISO 8601 UTC, milliseconds, Z.")
    memory = SampleMemorySerializer()
    cpu = SampleCpuSerializer()


class ThresholdsSerializer(serializers.Serializer):
    warning_mb = serializers.FloatField()
    alert_mb = serializers.FloatField()


class SamplesSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered.")
    interval_secs = serializers.FloatField(help_text="Seconds between two samples of that process.")
    thresholds = ThresholdsSerializer()
    shared = serializers.BooleanField(
        help_text="true: the samples of every instance (REDIS_URL) are included."
    )
    samples = SampleMessageSerializer(many=True, help_text="Oldest first, as the live feed sends them.")

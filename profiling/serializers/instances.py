"""Response shape of GET /api/profiling/instances."""

from rest_framework import serializers


class InstanceSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid, as the feed and `?instance=` name it.")
    host = serializers.CharField()
    pid = serializers.IntegerField(allow_null=True)
    started_at = serializers.CharField(allow_null=True, help_text="When its profiler started.")
    last_sample_at = serializers.CharField(allow_null=True, help_text="Its latest sample's time.")
    age_secs = serializers.FloatField(
        allow_null=True,
        help_text="Seconds since its latest sample, by this server's clock; null before its first.",
    )
    interval_secs = serializers.FloatField(allow_null=True, help_text="Its sampling interval.")
    threshold_status = serializers.ChoiceField(choices=["normal", "warning", "critical"], allow_null=True)
    this = serializers.BooleanField(help_text="Whether it is the process that answered.")


class InstanceListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    shared = serializers.BooleanField(
        help_text="true with REDIS_URL: every instance sharing the channel layer; false: only this process."
    )
    instances = InstanceSerializer(many=True, help_text="This process first, then by name.")

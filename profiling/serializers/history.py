"""Query parameters and response shape of the diff flame graph."""

from rest_framework import serializers

from profiling.core.stacks.windows import parse_instant
from profiling.serializers.common import QuerySerializer


class InstantField(serializers.CharField):
    """A time as unix seconds or ISO 8601 (naive times are UTC), as float unix seconds."""

    default_error_messages = {"invalid": "Not a time: {reason}. Give unix seconds or ISO 8601."}

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Unix seconds or ISO 8601 (e.g. 2026-12-03T07:00:00Z).")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if len(text) > 64:
            self.fail("invalid", reason="longer than 64 characters")
        try:
            return parse_instant(text)
        except ValueError as error:
            self.fail("invalid", reason=str(error))


class TimeRangeQuery(QuerySerializer):
    """Optional `from`/`to`: a window of the profile history instead of the last `window` seconds."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start, end = attrs.pop("from", None), attrs.pop("to", None)
        if (start is None) != (end is None):
            raise serializers.ValidationError({"to" if end is None else "from": ["Give both from and to."]})
        if start is not None:
            if end <= start:
                raise serializers.ValidationError({"to": ["to must be after from."]})
            attrs["start"], attrs["end"] = start, end
        return attrs


# `from` is a keyword: declared through the class's fields (subclasses made later inherit them).
TimeRangeQuery._declared_fields["from"] = InstantField(
    required=False, help_text="Start of a window of the profile history (with `to`; instead of `window`)."
)
TimeRangeQuery._declared_fields["to"] = InstantField(required=False, help_text="End of that window.")


class FlamegraphDiffQuerySerializer(QuerySerializer):
    base_from = InstantField()
    base_to = InstantField()
    endpoint = serializers.CharField(
        required=False, max_length=300, help_text="Only this endpoint's samples (an id from /endpoints)."
    )

    def validate(self, attrs):
        for start, end in (("base_from", "base_to"), ("from", "to")):
            if attrs[end] <= attrs[start]:
                raise serializers.ValidationError({end: [f"{end} must be after {start}."]})
        return attrs


# `from` is a keyword: declared through the class's fields.
FlamegraphDiffQuerySerializer._declared_fields["from"] = InstantField()
FlamegraphDiffQuerySerializer._declared_fields["to"] = InstantField()


class WindowSerializer(serializers.Serializer):
    samples = serializers.IntegerField(help_text="Busy samples in the window.")
    window_secs = serializers.FloatField(help_text="Seconds the history's buckets cover.")


WindowSerializer._declared_fields["from"] = serializers.CharField(help_text="ISO 8601, UTC.")
WindowSerializer._declared_fields["to"] = serializers.CharField(help_text="ISO 8601, UTC.")


class DiffNodeSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="module.qualname of the frame; `all` at the root.")
    base_value = serializers.IntegerField(help_text="Busy samples in this frame and below, base window.")
    value = serializers.IntegerField(help_text="The same in the newer window.")
    base_share_percent = serializers.FloatField(help_text="base_value over the base window's busy samples.")
    share_percent = serializers.FloatField(help_text="value over the newer window's busy samples.")
    delta_percent = serializers.FloatField(help_text="share_percent - base_share_percent (points).")
    only_in = serializers.ChoiceField(
        choices=["base", "new"], allow_null=True, help_text="Seen in one window only."
    )
    children = serializers.ListField(child=serializers.DictField(), help_text="DiffNode children.")


class FlamegraphDiffSerializer(serializers.Serializer):
    instance = serializers.CharField(help_text="host:pid of the process that answered (see ?instance=).")
    timestamp = serializers.CharField()
    unit = serializers.CharField()
    endpoint = serializers.CharField(allow_null=True)
    base = WindowSerializer()
    new = WindowSerializer()
    tree = DiffNodeSerializer()

"""Response shapes shared by every endpoint."""

from rest_framework import serializers


class QuerySerializer(serializers.Serializer):
    """Query parameters: one given with an empty value is refused, never read as its default."""

    def to_internal_value(self, data):
        blank = {name: ["This field may not be blank."] for name in self.fields if data.get(name) == ""}
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ThrottledSerializer(ErrorSerializer):
    retry_after = serializers.IntegerField(help_text="Seconds until a request will pass again.")

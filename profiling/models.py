from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager


class ProfilingAPIKeyManager(BaseAPIKeyManager):
    pass


class ProfilingAPIKey(AbstractAPIKey):
    """An API key for the profiling API; stored hashed, shown once when created."""

    objects = ProfilingAPIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"

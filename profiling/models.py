from django.db import models
from django.db.models.signals import post_delete, post_save
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from profiling.keycache import forget_verified_keys


def _forget_verified_keys(**kwargs) -> None:
    forget_verified_keys()


class ProfilingAPIKeyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # A bulk revoke (the admin action, revoke_api_key) sends no signal.
        count = super().update(**kwargs)
        _forget_verified_keys()
        return count


class ProfilingAPIKeyManager(BaseAPIKeyManager.from_queryset(ProfilingAPIKeyQuerySet)):
    pass


class ProfilingAPIKey(AbstractAPIKey):
    """An API key for the profiling API; stored hashed, shown once when created."""

    objects = ProfilingAPIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


# Saved (a revoke, a new expiry) or deleted: verified keys remembered anywhere are forgotten.
post_save.connect(_forget_verified_keys, sender=ProfilingAPIKey, dispatch_uid="riptide-forget-keys-save")
post_delete.connect(_forget_verified_keys, sender=ProfilingAPIKey, dispatch_uid="riptide-forget-keys-delete")

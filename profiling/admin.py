from django.contrib import admin, messages
from django.utils import timezone
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from profiling.models import ProfilingAPIKey

# The package registers its own concrete model; this project uses its subclass only.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(ProfilingAPIKey)
class ProfilingAPIKeyAdmin(APIKeyModelAdmin):
    """Name, expiry and revocation; a new key is shown once in a session-stored message."""

    list_display = ("name", "prefix", "created", "expiry_date", "_has_expired", "revoked")
    list_filter = ("revoked", "created")
    actions = ["revoke_keys"]

    @admin.action(description="Revoke the selected API keys")
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("expiry_date", timezone.now() + timezone.timedelta(days=90))
        return initial

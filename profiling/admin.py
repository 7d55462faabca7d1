from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from profiling.models import ProfilingAPIKey

# The package registers its own concrete model; this project uses its subclass only.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


NEW_KEY_SESSION = "profiling:new-api-key"


@admin.register(ProfilingAPIKey)
class ProfilingAPIKeyAdmin(APIKeyModelAdmin):
    """Name, expiry and revocation; a new key is shown once, on its own page.

    The package's admin shows a new key in a message, and a host's message storage may
    be Django's default, which keeps messages in a cookie the browser can read. So the
    key is kept in the server-side session instead, shown once on the key's change page
    (the add form leads there), and dropped from the session as it is shown.
    """

    list_display = ("name", "prefix", "created", "expiry_date", "_has_expired", "revoked")
    list_filter = ("revoked", "created")
    actions = ["revoke_keys"]

    @admin.action(description="Revoke the selected API keys")
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)

    def save_model(self, request, obj, form=None, change=False):
        if obj.pk:
            obj.save()
            return
        key = self.model.objects.assign_key(obj)
        obj.save()
        request.session[NEW_KEY_SESSION] = {"pk": str(obj.pk), "key": key}

    def response_add(self, request, obj, post_url_continue=None):
        # Always to the new key's page, where the key is shown once.
        return HttpResponseRedirect(
            reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        new = request.session.get(NEW_KEY_SESSION)
        context = dict(extra_context or {})
        if new and new.get("pk") == str(object_id) and request.method == "GET":
            del request.session[NEW_KEY_SESSION]
            context["new_api_key"] = new["key"]
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("expiry_date", timezone.now() + timezone.timedelta(days=90))
        return initial

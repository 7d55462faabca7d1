"""Service endpoints: Prometheus metrics, health, JSON 404 under /api/."""

from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema

from profiling import metrics
from profiling.conf import runtime
from profiling.core.errors import InvalidParameterError
from profiling.views.base import ProfilingView
from profiling.views.instances import instance_records


class MetricsView(ProfilingView):
    throttle_scope = "metrics"

    def get_authenticators(self):
        return [] if metrics.is_public() else super().get_authenticators()

    def get_permissions(self):
        return [] if metrics.is_public() else super().get_permissions()

    def perform_content_negotiation(self, request, force=False):
        # Scrapers ask for text formats; errors still render as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(exclude=True)
    def get(self, request):
        """This process's series; `?instances=all`: every live instance's, with an `instance` label."""
        accept = request.META.get("HTTP_ACCEPT", "")
        scope = request.query_params.get("instances")
        if scope not in (None, "", "all"):
            raise InvalidParameterError("instances must be 'all' (or absent: this process's own series).")
        if scope == "all":
            body, content_type = metrics.instances_exposition(instance_records(runtime()), accept)
        else:
            body, content_type = metrics.exposition(runtime(), accept)
        return HttpResponse(body, content_type=content_type)


def healthz(request):
    """Liveness: 200 without auth and without details."""
    return JsonResponse({"status": "ok"})


def api_not_found(request, *args, **kwargs):
    return JsonResponse({"detail": "Not found."}, status=404)

"""The REST API: thin views over the core runtime."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from profiling import metrics
from profiling.conf import runtime
from profiling.serializers import CpuSerializer, ErrorSerializer, MemorySerializer, ThrottledSerializer

COMMON_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Missing, unknown, revoked or expired key."),
    403: OpenApiResponse(ErrorSerializer, description="A session whose user is not staff."),
    429: OpenApiResponse(ThrottledSerializer, description="Over the rate limit; see Retry-After."),
    503: OpenApiResponse(ErrorSerializer, description="Profiling is disabled or not running."),
}


class ProfilingView(APIView):
    """Base of the profiling endpoints: API key or staff session, per-endpoint throttle."""

    throttle_scope = "default"


class MemoryView(ProfilingView):
    throttle_scope = "memory"

    @extend_schema(responses={200: MemorySerializer, **COMMON_ERRORS}, tags=["profiling"])
    def get(self, request):
        """Current memory of this process, its growth rate and threshold status."""
        return Response(runtime().memory_report())


class CpuView(ProfilingView):
    throttle_scope = "cpu"

    @extend_schema(responses={200: CpuSerializer, **COMMON_ERRORS}, tags=["profiling"])
    def get(self, request):
        """System and process CPU over the last sampling interval, and load averages."""
        return Response(runtime().cpu_report())


class MetricsView(ProfilingView):
    throttle_scope = "metrics"

    def get_authenticators(self):
        return [] if metrics.is_public() else super().get_authenticators()

    def perform_content_negotiation(self, request, force=False):
        # Scrapers ask for text formats; errors still render as JSON.
        return super().perform_content_negotiation(request, force=True)

    def get_permissions(self):
        return [] if metrics.is_public() else super().get_permissions()

    @extend_schema(exclude=True)
    def get(self, request):
        body, content_type = metrics.exposition(runtime(), request.META.get("HTTP_ACCEPT", ""))
        return HttpResponse(body, content_type=content_type)


def healthz(request):
    """Liveness: 200 without auth and without details."""
    return JsonResponse({"status": "ok"})


def api_not_found(request, *args, **kwargs):
    return JsonResponse({"detail": "Not found."}, status=404)

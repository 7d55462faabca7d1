"""GET /api/profiling/memory and /api/profiling/cpu."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from profiling.serializers.system import CpuSerializer, MemorySerializer
from profiling.views.base import BAD_REQUEST, COMMON_ERRORS, ProfilingView
from profiling.views.instances import INSTANCE_PARAMETER, REMOTE_ERRORS, answer, latest_measurement


class MemoryView(ProfilingView):
    throttle_scope = "memory"

    @extend_schema(
        parameters=[INSTANCE_PARAMETER],
        responses={200: MemorySerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["profiling"],
    )
    def get(self, request):
        """Current memory of this process (or the latest sample of `instance`), growth rate, status."""
        return Response(latest_measurement(request, "memory") or answer(request, "memory"))


class CpuView(ProfilingView):
    throttle_scope = "cpu"

    @extend_schema(
        parameters=[INSTANCE_PARAMETER],
        responses={200: CpuSerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["profiling"],
    )
    def get(self, request):
        """System and process CPU over the last sampling interval (of `instance`), load averages."""
        return Response(latest_measurement(request, "cpu") or answer(request, "cpu"))

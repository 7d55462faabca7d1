"""GET /api/profiling/memory and /api/profiling/cpu."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from profiling.conf import runtime
from profiling.serializers.system import CpuSerializer, MemorySerializer
from profiling.views.base import COMMON_ERRORS, ProfilingView


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

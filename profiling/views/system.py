"""GET /api/profiling/memory, /cpu and /samples."""

import math
from datetime import datetime

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from profiling.cluster import link_of
from profiling.conf import runtime
from profiling.core.errors import InvalidParameterError
from profiling.serializers.system import CpuSerializer, MemorySerializer, SamplesSerializer
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


MAX_POLLED_SAMPLES = 120


def parse_after(raw: str | None) -> float | None:
    """`after`: unix seconds; None when absent."""
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterError("after must be a time in unix seconds.") from None
    if not math.isfinite(value):
        raise InvalidParameterError("after must be a time in unix seconds.")
    return value


class SamplesView(ProfilingView):
    """The live feed's samples by polling, for servers without websockets (WSGI)."""

    throttle_scope = "samples"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after",
                float,
                description="Only samples measured after this time (unix seconds); default: the recent ones.",
            )
        ],
        responses={200: SamplesSerializer, **BAD_REQUEST, **COMMON_ERRORS},
        tags=["profiling"],
    )
    def get(self, request):
        """Recent samples, as the live feed sends them (this process's and, with REDIS_URL, every instance's)."""
        after = parse_after(request.query_params.get("after"))
        profiler = runtime()
        sampler = profiler.require_running()
        samples = [
            profiler.sample_message(sample)
            for sample in sampler.history(limit=MAX_POLLED_SAMPLES)
            if after is None or sample.timestamp > after
        ]
        link = link_of(profiler)
        if link is not None:
            for message in link.remote_history():
                if after is None or unix_seconds(message.get("timestamp")) > after:
                    samples.append(message)
        return Response(
            {
                "instance": profiler.instance,
                "interval_secs": profiler.config.memory_interval_secs,
                "thresholds": profiler.thresholds(),
                "shared": link is not None,
                "samples": samples[-MAX_POLLED_SAMPLES * 4 :],
            }
        )


def unix_seconds(iso: str | None) -> float:
    """A sample message's ISO 8601 timestamp as unix seconds (0 when it has none)."""
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else 0.0
    except ValueError:
        return 0.0

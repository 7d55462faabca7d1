"""GET /api/profiling/bottlenecks, /api/profiling/flamegraph and /api/profiling/endpoints."""

import base64

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from profiling.serializers.bottlenecks import (
    BottlenecksQuerySerializer,
    BottlenecksSerializer,
    EndpointsQuerySerializer,
    EndpointsSerializer,
    FlamegraphQuerySerializer,
    FlamegraphSerializer,
)
from profiling.views.base import BAD_REQUEST, COMMON_ERRORS, ProfilingView
from profiling.views.instances import INSTANCE_PARAMETER, REMOTE_ERRORS, answer


class BottlenecksView(ProfilingView):
    throttle_scope = "bottlenecks"

    @extend_schema(
        parameters=[BottlenecksQuerySerializer, INSTANCE_PARAMETER],
        responses={200: BottlenecksSerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["profiling"],
    )
    def get(self, request):
        """Hotspots of the last `window` seconds from the sampling stack profiler."""
        query = BottlenecksQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(answer(request, "bottlenecks", query.validated_data))


# The speedscope file's outline (https://www.speedscope.app/file-format-schema.json has it all).
SPEEDSCOPE_FILE = inline_serializer(
    "SpeedscopeFile",
    {
        "$schema": serializers.CharField(help_text="https://www.speedscope.app/file-format-schema.json"),
        "name": serializers.CharField(),
        "exporter": serializers.CharField(),
        "activeProfileIndex": serializers.IntegerField(),
        "shared": inline_serializer(
            "SpeedscopeShared", {"frames": serializers.ListField(child=serializers.DictField())}
        ),
        "profiles": serializers.ListField(
            child=serializers.DictField(),
            help_text="Sampled profiles weighted by busy wall time, on-CPU time (ns) and busy samples.",
        ),
    },
)


class FlamegraphView(ProfilingView):
    throttle_scope = "flamegraph"

    def perform_content_negotiation(self, request, force=False):
        # `format` is this endpoint's own parameter, not DRF's renderer override;
        # errors always render as JSON.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[FlamegraphQuerySerializer, INSTANCE_PARAMETER],
        responses={
            (200, "application/json"): OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="FlamegraphBody",
                    serializers=[FlamegraphSerializer, SPEEDSCOPE_FILE],
                    resource_type_field_name=None,
                ),
                description="format=json: a tree; format=speedscope: a speedscope file, as the attachment "
                "profile.speedscope.json; format=collapsed: text/plain lines; format=pprof: a gzipped "
                "pprof profile (perftools.profiles.Profile), as the attachment profile.pb.gz.",
            ),
            (200, "text/plain"): OpenApiTypes.STR,
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **BAD_REQUEST,
            **REMOTE_ERRORS,
            **COMMON_ERRORS,
        },
        tags=["profiling"],
    )
    def get(self, request):
        """The last `window` seconds of busy stacks as a flame graph."""
        query = FlamegraphQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = answer(request, "flamegraph", query.validated_data)
        if "collapsed" in body:
            return HttpResponse(body["collapsed"], content_type="text/plain; charset=utf-8")
        # -- export formats: files to open in pprof, Pyroscope or speedscope --
        if "pprof" in body:
            response = HttpResponse(base64.b64decode(body["pprof"]), content_type="application/octet-stream")
            response["Content-Disposition"] = 'attachment; filename="profile.pb.gz"'
            return response
        if "speedscope" in body:
            response = Response(body["speedscope"])
            response["Content-Disposition"] = 'attachment; filename="profile.speedscope.json"'
            return response
        # -- end of export formats --
        return Response(body)


class EndpointsView(ProfilingView):
    throttle_scope = "endpoints"

    @extend_schema(
        parameters=[EndpointsQuerySerializer, INSTANCE_PARAMETER],
        responses={200: EndpointsSerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["profiling"],
    )
    def get(self, request):
        """Per route: requests, errors, latency, CPU per request, share of busy time, hotspots."""
        query = EndpointsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(answer(request, "endpoints", query.validated_data))

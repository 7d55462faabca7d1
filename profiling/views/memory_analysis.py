"""Allocations, leak detection and heap snapshots: thin views over the core's memory analysis."""

import math

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.response import Response

from profiling.conf import runtime
from profiling.core.errors import InvalidParameterError, NotFoundError
from profiling.core.memory.service import memory_analysis
from profiling.serializers.common import ErrorSerializer
from profiling.serializers.memory_analysis import (
    AllocationsSerializer,
    LeakReportSerializer,
    SnapshotCompareSerializer,
    SnapshotListSerializer,
    SnapshotSerializer,
)
from profiling.views.base import BAD_REQUEST, COMMON_ERRORS, ProfilingView
from profiling.views.instances import INSTANCE_PARAMETER, REMOTE_ERRORS, answer, requested_instance

MAX_WAIT_SECS = 5.0
BAD_BODY_DETAIL = "The body must be empty or a JSON object (Content-Type: application/json)."
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such snapshot.")}


def _analysis():
    return memory_analysis(runtime())


def require_no_body_or_object(request) -> None:
    """A POST here takes no body or a JSON object (its keys are ignored); anything else is a 400."""
    if not request.body:
        return
    try:
        data = request.data
    except (ParseError, UnsupportedMediaType):
        data = None
    if not isinstance(data, dict):
        raise InvalidParameterError(BAD_BODY_DETAIL)


def parse_wait(raw: str | None) -> float:
    """The `wait` query parameter: seconds to wait for a running window, 0..MAX_WAIT_SECS."""
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterError(
            f"wait must be a number of seconds from 0 to {MAX_WAIT_SECS:g}."
        ) from None
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT_SECS:
        raise InvalidParameterError(f"wait must be a number of seconds from 0 to {MAX_WAIT_SECS:g}.")
    return value


class AllocationsView(ProfilingView):
    throttle_scope = "allocations"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "wait",
                {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECS},
                description=f"Seconds (0..{MAX_WAIT_SECS:g}) to wait for a running window before answering.",
            ),
            INSTANCE_PARAMETER,
        ],
        responses={200: AllocationsSerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["memory"],
    )
    def get(self, request):
        """Live allocations by function from the latest bounded tracing window, and allocator figures."""
        wait = parse_wait(request.query_params.get("wait"))
        return Response(answer(request, "allocations", {"wait": wait}))


class LeakDetectionView(ProfilingView):
    @property
    def throttle_scope(self):
        request = getattr(self, "request", None)
        return "leak_detection" if request is not None and request.method == "POST" else "leak_report"

    @extend_schema(
        request=None,
        parameters=[INSTANCE_PARAMETER],
        responses={200: LeakReportSerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["memory"],
    )
    def post(self, request):
        """Add a fresh leak check and analyse the background checks' history."""
        require_no_body_or_object(request)
        return Response(answer(request, "leak_detection"))

    @extend_schema(
        parameters=[INSTANCE_PARAMETER],
        responses={
            200: LeakReportSerializer,
            **BAD_REQUEST,
            **REMOTE_ERRORS,
            404: OpenApiResponse(
                ErrorSerializer, description="No analysis has run yet, or no such instance."
            ),
            **COMMON_ERRORS,
        },
        tags=["memory"],
    )
    def get(self, request):
        """The latest leak report, without running a new analysis."""
        return Response(answer(request, "leak_report"))


class SnapshotView(ProfilingView):
    throttle_scope = "snapshot"

    @extend_schema(
        request=None,
        parameters=[INSTANCE_PARAMETER],
        responses={
            200: SnapshotSerializer,
            **BAD_REQUEST,
            **REMOTE_ERRORS,
            507: OpenApiResponse(
                ErrorSerializer,
                description="Disk full, or the snapshot alone exceeds the total size kept; no file was kept.",
            ),
            **COMMON_ERRORS,
        },
        tags=["memory"],
    )
    def post(self, request):
        """Write a heap snapshot (JSON) atomically into the snapshot directory."""
        require_no_body_or_object(request)
        return Response(answer(request, "snapshot"))


class SnapshotListView(ProfilingView):
    throttle_scope = "snapshots"

    @extend_schema(
        parameters=[INSTANCE_PARAMETER],
        responses={200: SnapshotListSerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["memory"],
    )
    def get(self, request):
        """The kept snapshots, newest first (read from the directory)."""
        return Response(answer(request, "snapshots"))


class SnapshotDownloadView(ProfilingView):
    throttle_scope = "snapshot_download"

    @extend_schema(
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The snapshot file (format riptide-snapshot/1), as an attachment.",
            ),
            **BAD_REQUEST,
            **REMOTE_ERRORS,
            **NOT_FOUND,
            **COMMON_ERRORS,
        },
        parameters=[INSTANCE_PARAMETER],
        tags=["memory"],
    )
    def get(self, request, snapshot_id):
        """Exactly that snapshot file, as an attachment."""
        if requested_instance(request) is not None:
            remote = answer(request, "snapshot_file", {"snapshot_id": snapshot_id})
            response = HttpResponse(remote["content"].encode("utf-8"), content_type="application/json")
            response["Content-Disposition"] = f'attachment; filename="{remote["snapshot_id"]}.json"'
            return response
        snapshot = _analysis().snapshot_file(snapshot_id)
        try:
            handle = open(snapshot.path, "rb")  # noqa: SIM115 - FileResponse closes it
        except FileNotFoundError:
            raise NotFoundError("No such snapshot.") from None
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"{snapshot.snapshot_id}.json",
            content_type="application/json",
        )


class SnapshotCompareView(ProfilingView):
    throttle_scope = "snapshot_compare"

    @extend_schema(
        parameters=[INSTANCE_PARAMETER],
        responses={
            200: SnapshotCompareSerializer,
            **BAD_REQUEST,
            **REMOTE_ERRORS,
            **NOT_FOUND,
            **COMMON_ERRORS,
        },
        tags=["memory"],
    )
    def get(self, request, before_id, after_id):
        """What grew from one snapshot to another, by component and by type."""
        return Response(answer(request, "snapshot_compare", {"before_id": before_id, "after_id": after_id}))

"""Which instance a request is about, and GET /api/profiling/instances.

Every profiling endpoint that measures a process takes `?instance=<host>:<pid>`. Absent
or naming this process, the answer is measured here. Naming another live instance (only
with REDIS_URL), memory and cpu come from the latest sample that instance published to
the registry, and the other operations are asked of that instance over the channel layer
(profiling/cluster/link.py): its answer, or 504 when it does not answer in time.
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from profiling.cluster import Link, link_of, operations
from profiling.cluster.registry import describe
from profiling.conf import runtime
from profiling.core.errors import InvalidParameterError, NotFoundError
from profiling.core.timefmt import iso_utc
from profiling.serializers.common import ErrorSerializer
from profiling.serializers.instances import InstanceListSerializer
from profiling.views.base import BAD_REQUEST, COMMON_ERRORS, ProfilingView

INSTANCE_REGEX = r"^[A-Za-z0-9_.\-\[\]]{1,200}:[0-9]{1,10}$"
INSTANCE_PATTERN = re.compile(INSTANCE_REGEX)

INSTANCE_PARAMETER = OpenApiParameter(
    "instance",
    # Empty means absent (`?instance=$NAME` with nothing in NAME): the schema says so too.
    {"type": "string", "pattern": f"^$|{INSTANCE_REGEX}", "maxLength": 211},
    description="host:pid of the instance to ask (GET /api/profiling/instances lists them); "
    "absent or empty: the process that answers. Another instance needs REDIS_URL.",
)
REMOTE_ERRORS = {
    404: OpenApiResponse(ErrorSerializer, description="No such live instance (or no such result)."),
    502: OpenApiResponse(ErrorSerializer, description="The instance asked failed to answer."),
    504: OpenApiResponse(ErrorSerializer, description="The instance asked did not answer in time."),
}


def requested_instance(request) -> str | None:
    """The other instance `?instance=` names, or None when it is absent or names this process."""
    name = request.query_params.get("instance")
    if name is None or name == "":
        return None
    if not INSTANCE_PATTERN.match(name):
        raise InvalidParameterError("instance must be host:pid, as GET /api/profiling/instances lists it.")
    if name == runtime().instance:
        return None
    return name


def _link(name: str) -> Link:
    profiler = runtime()
    profiler.require_running()
    link = link_of(profiler)
    if link is None:
        raise NotFoundError(
            f"No live instance {name!r}: this server shares no channel layer (REDIS_URL is unset), "
            "so it answers only for itself."
        )
    return link


def answer(request, op: str, args: dict | None = None) -> dict:
    """Run `op` here, or on the instance the request names, and return the answer."""
    name = requested_instance(request)
    if name is None:
        result = operations.run(runtime(), op, args)
    else:
        result = _link(name).call(name, op, args)
    _link_downloads(result, link_of(runtime()) is not None)
    return result


def latest_measurement(request, part: str) -> dict | None:
    """The `memory` or `cpu` part of the named instance's latest sample; None for this process."""
    name = requested_instance(request)
    if name is None:
        return None
    record = _link(name).latest(name)
    if record is None:
        raise NotFoundError(f"No live instance {name!r}; GET /api/profiling/instances lists them.")
    return {**record["sample"][part], "instance": name}


def _link_downloads(result: dict, linked: bool) -> None:
    """Download links are built here, from the host's URLconf; the core gives ids only.

    With REDIS_URL they name their instance, so any process behind the proxy can serve them.
    """
    instance = result.get("instance")
    entries = result.get("snapshots") if isinstance(result.get("snapshots"), list) else [result]
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("snapshot_id") or "size_bytes" not in entry:
            continue  # not a snapshot's record
        url = reverse("profiling:snapshot-download", args=[entry["snapshot_id"]])
        if linked and instance:
            url = f"{url}?instance={quote(instance, safe=':')}"
        entry["download_url"] = url


def instance_records(profiler, now: float | None = None) -> list[dict]:
    """Every live instance's record: from the registry with REDIS_URL, else this process's own."""
    sampler = profiler.require_running()
    link = link_of(profiler)
    if link is not None:
        return link.instances()
    latest = sampler.latest()
    return [
        {
            "instance": profiler.instance,
            "started_at": iso_utc(profiler.started_at) if profiler.started_at else None,
            "interval_secs": profiler.config.memory_interval_secs,
            "unix_time": latest.timestamp if latest is not None else (now or time.time()),
            "sample": profiler.sample_message(latest) if latest is not None else None,
        }
    ]


class InstancesView(ProfilingView):
    throttle_scope = "instances"

    @extend_schema(
        responses={200: InstanceListSerializer, **BAD_REQUEST, **COMMON_ERRORS}, tags=["profiling"]
    )
    def get(self, request):
        """The live instances: every process publishing samples into the shared channel layer."""
        profiler = runtime()
        now = time.time()
        records = instance_records(profiler, now)
        link = link_of(profiler)
        instances = [describe(record, now, profiler.instance) for record in records]
        instances.sort(key=lambda item: (not item["this"], item["instance"]))
        return Response({"count": len(instances), "shared": link is not None, "instances": instances})

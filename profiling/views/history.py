"""GET /api/profiling/flamegraph/diff: two windows of the profile history compared."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from profiling.serializers.history import FlamegraphDiffQuerySerializer, FlamegraphDiffSerializer
from profiling.views.base import BAD_REQUEST, COMMON_ERRORS, ProfilingView
from profiling.views.instances import INSTANCE_PARAMETER, REMOTE_ERRORS, answer


class FlamegraphDiffView(ProfilingView):
    throttle_scope = "flamegraph"

    @extend_schema(
        parameters=[FlamegraphDiffQuerySerializer, INSTANCE_PARAMETER],
        responses={200: FlamegraphDiffSerializer, **BAD_REQUEST, **REMOTE_ERRORS, **COMMON_ERRORS},
        tags=["profiling"],
    )
    def get(self, request):
        """The newer window (`from`..`to`) against the base one, as shares of each window's samples."""
        query = FlamegraphDiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        args = {
            "base_start": data["base_from"],
            "base_end": data["base_to"],
            "start": data["from"],
            "end": data["to"],
            "endpoint": data.get("endpoint"),
        }
        return Response(answer(request, "flamegraph_diff", args))

"""What every profiling endpoint shares: auth, per-endpoint throttle scope, error docs."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework.views import APIView

from profiling.serializers.common import ErrorSerializer, ThrottledSerializer

COMMON_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Missing, unknown, revoked or expired key."),
    403: OpenApiResponse(ErrorSerializer, description="A session whose user is not staff."),
    429: OpenApiResponse(ThrottledSerializer, description="Over the rate limit; see Retry-After."),
    503: OpenApiResponse(ErrorSerializer, description="Profiling is disabled or not running."),
}
BAD_REQUEST = {400: OpenApiResponse(ErrorSerializer, description="A bad query parameter or body.")}


class ProfilingView(APIView):
    """Base of the profiling endpoints: API key or staff session, per-endpoint throttle."""

    throttle_scope = "default"

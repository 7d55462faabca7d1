"""What every profiling endpoint shares: its own auth, permission, throttle and error policy.

The policy is set on the views themselves, never taken from the host project's
`REST_FRAMEWORK` settings: a host whose default is DRF's `AllowAny` (or another exception
handler, renderer or parser) can neither open the API nor turn an error into HTML or a 500.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from profiling.authentication import APIKeyAuthentication, StaffSessionAuthentication
from profiling.exceptions import exception_handler
from profiling.permissions import HasAPIKeyOrStaff
from profiling.serializers.common import ErrorSerializer, ThrottledSerializer
from profiling.throttling import ClientEndpointThrottle

COMMON_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Missing, unknown, revoked or expired key."),
    403: OpenApiResponse(ErrorSerializer, description="A session whose user is not staff."),
    429: OpenApiResponse(ThrottledSerializer, description="Over the rate limit; see Retry-After."),
    503: OpenApiResponse(ErrorSerializer, description="Profiling is disabled or not running."),
}
BAD_REQUEST = {400: OpenApiResponse(ErrorSerializer, description="A bad query parameter or body.")}


class ProfilingView(APIView):
    """Base of the profiling endpoints: API key or staff session, per-endpoint throttle."""

    # The API key first: its WWW-Authenticate challenge makes failures 401, not 403.
    authentication_classes = [APIKeyAuthentication, StaffSessionAuthentication]
    permission_classes = [HasAPIKeyOrStaff]
    throttle_classes = [ClientEndpointThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    throttle_scope = "default"

    def get_exception_handler(self):
        return exception_handler

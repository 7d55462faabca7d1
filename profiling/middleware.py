"""Optional middleware for a whole site: JSON errors under /api/, security headers.

The standalone project uses both; a host project may add them, nothing requires them
(the profiling views answer JSON errors and set their page's CSP themselves).
"""

from __future__ import annotations

import logging

from django.http import JsonResponse

from profiling.security import CONTENT_SECURITY_POLICY

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/metrics")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class JsonApiErrorsMiddleware:
    """Answer unexpected errors under /api/ with a JSON 500, never an HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return JsonResponse({"detail": "Internal server error."}, status=500)


class SecurityHeadersMiddleware:
    """Add the Content-Security-Policy the dashboard, admin and API docs satisfy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response

"""JSON errors for the API paths, whatever Django would otherwise render."""

from __future__ import annotations

import logging

from django.http import JsonResponse

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


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Plotly sets style attributes on the SVG it draws.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """Add the Content-Security-Policy the dashboard, admin and API docs satisfy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response

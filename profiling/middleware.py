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

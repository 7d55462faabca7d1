"""The one exception handler: core errors to statuses, DRF's shapes kept, 429 with retry_after.

The profiling views name it themselves (views/base.py), whatever the host's
`REST_FRAMEWORK["EXCEPTION_HANDLER"]` is; an error it does not know becomes a JSON 500
that is logged, never Django's HTML error page.
"""

from __future__ import annotations

import logging

from django.core.exceptions import SuspiciousOperation
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from profiling.core import errors

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.ProfilingError], int] = {
    errors.ProfilingDisabledError: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.ProfilingNotRunningError: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.InvalidParameterError: status.HTTP_400_BAD_REQUEST,
    errors.NotFoundError: status.HTTP_404_NOT_FOUND,
    errors.BusyError: status.HTTP_409_CONFLICT,
    errors.StorageFullError: status.HTTP_507_INSUFFICIENT_STORAGE,
    errors.InstanceUnreachableError: status.HTTP_504_GATEWAY_TIMEOUT,
    errors.InstanceFailedError: status.HTTP_502_BAD_GATEWAY,
    errors.ClusterUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def exception_handler(exc, context):
    if isinstance(exc, errors.ProfilingError):
        code = next(
            (code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)),
            status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
        headers = {"Retry-After": "5"} if code == status.HTTP_503_SERVICE_UNAVAILABLE else None
        return Response({"detail": exc.detail}, status=code, headers=headers)
    if isinstance(exc, SuspiciousOperation):
        # Raised by Django while parsing a request (too many query fields, say): the
        # client's fault, so a 400, as Django itself answers it outside DRF.
        return Response({"detail": f"Bad request: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        logger.error(
            "unhandled error on %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=exc,
        )
        return Response({"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait) if exc.wait is not None else 1
        response["Retry-After"] = str(wait)
        response.data = {
            "detail": f"Request was throttled. Expected available in {wait} seconds.",
            "retry_after": wait,
        }
    elif not isinstance(response.data, dict) or "detail" not in response.data:
        # Validation errors: keep the field errors, but always give a `detail`.
        response.data = {"detail": "Invalid request.", "errors": response.data}
    return response

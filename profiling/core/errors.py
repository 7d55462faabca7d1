"""Errors the profiling core raises; profiling/exceptions.py maps them to HTTP statuses."""


class ProfilingError(Exception):
    """Base class of every error the core raises on purpose."""

    default_detail = "Profiling failed."

    def __init__(self, detail: str | None = None):
        super().__init__(detail or self.default_detail)
        self.detail = detail or self.default_detail


class ProfilingDisabledError(ProfilingError):
    default_detail = "Profiling is disabled (ENABLE_PROFILING=false)."


class ProfilingNotRunningError(ProfilingError):
    default_detail = "The profiler is not running in this process."


class InvalidParameterError(ProfilingError):
    default_detail = "Invalid parameter."


class NotFoundError(ProfilingError):
    default_detail = "Not found."


class BusyError(ProfilingError):
    default_detail = "Another operation of this kind is in progress."


class StorageFullError(ProfilingError):
    default_detail = "Not enough storage to complete the operation."

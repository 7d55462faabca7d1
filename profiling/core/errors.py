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


class InstanceUnreachableError(ProfilingError):
    """Another instance did not answer a request in time (it is gone, stopped or overloaded)."""

    default_detail = "The instance did not answer in time."


class InstanceFailedError(ProfilingError):
    """Another instance answered a request with an unexpected failure of its own."""

    default_detail = "The instance failed to answer."


class ClusterUnavailableError(ProfilingError):
    """The shared channel layer (Redis) cannot be reached."""

    default_detail = "The shared channel layer (REDIS_URL) cannot be reached."

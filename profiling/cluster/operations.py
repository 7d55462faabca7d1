"""The profiling operations one instance can run for another, by name, with plain arguments.

The same table serves a local request and one that arrived over the channel layer, so
an answer is the same whichever process was asked. Arguments are validated by the asking
view (its query serializer) and validated again here by the core, which raises
`InvalidParameterError` for anything out of range.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from profiling.core import errors
from profiling.core.memory.service import memory_analysis
from profiling.core.runtime import ProfilingRuntime
from profiling.core.stacks import bottlenecks, endpoints, flamegraph
from profiling.core.stacks.service import flamegraph_diff

Operation = Callable[[ProfilingRuntime, dict], dict]


def _flamegraph(runtime: ProfilingRuntime, args: dict) -> dict:
    import base64

    body = flamegraph(runtime, **args)
    # Collapsed stacks are text, a pprof profile bytes (base64 here) and a speedscope file a
    # dict of its own: over the channel layer each travels inside a dict, under its format.
    if isinstance(body, str):
        return {"collapsed": body}
    if isinstance(body, bytes):
        return {"pprof": base64.b64encode(body).decode("ascii")}
    if args.get("format") == "speedscope":
        return {"speedscope": body}
    return body


# A snapshot file travels whole inside one channel-layer message; bigger ones are
# downloaded from their own instance.
MAX_REMOTE_FILE_BYTES = 16 * 1024 * 1024


def _snapshot_file(runtime: ProfilingRuntime, args: dict) -> dict:
    snapshot = memory_analysis(runtime).snapshot_file(str(args.get("snapshot_id")))
    try:
        size = snapshot.path.stat().st_size
        if size > MAX_REMOTE_FILE_BYTES:
            raise errors.InvalidParameterError(
                f"The snapshot is {size} bytes, over the {MAX_REMOTE_FILE_BYTES} that travel between "
                "instances; download it from its own instance."
            )
        content = snapshot.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise errors.NotFoundError("No such snapshot.") from None
    return {"snapshot_id": snapshot.snapshot_id, "content": content}


OPERATIONS: dict[str, Operation] = {
    "memory": lambda runtime, args: runtime.memory_report(),
    "cpu": lambda runtime, args: runtime.cpu_report(),
    "leak_detection": lambda runtime, args: memory_analysis(runtime).detect_leaks(),
    "leak_report": lambda runtime, args: memory_analysis(runtime).latest_leak_report(),
    "snapshot": lambda runtime, args: memory_analysis(runtime).create_snapshot(),
    "snapshots": lambda runtime, args: memory_analysis(runtime).list_snapshots(),
    "snapshot_file": _snapshot_file,
    "snapshot_compare": lambda runtime, args: memory_analysis(runtime).compare_snapshots(
        str(args.get("before_id")), str(args.get("after_id"))
    ),
    "allocations": lambda runtime, args: memory_analysis(runtime).allocations_report(args.get("wait", 0.0)),
    "bottlenecks": lambda runtime, args: bottlenecks(runtime, **args),
    "flamegraph": _flamegraph,
    "endpoints": lambda runtime, args: endpoints(runtime, **args),
    "flamegraph_diff": lambda runtime, args: flamegraph_diff(runtime, **args),
}

# The core errors an answer may carry back, by name; anything else is a failure of the
# answering instance (502), never a reason for the asking one to answer 500.
_ERRORS_BY_NAME: dict[str, type[errors.ProfilingError]] = {
    cls.__name__: cls
    for cls in (
        errors.ProfilingDisabledError,
        errors.ProfilingNotRunningError,
        errors.InvalidParameterError,
        errors.NotFoundError,
        errors.BusyError,
        errors.StorageFullError,
    )
}


def run(runtime: ProfilingRuntime, name: str, args: dict | None = None) -> dict:
    """Run operation `name` in this process and tag the answer with this instance."""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise errors.InvalidParameterError(f"Unknown operation {name!r}.")
    started = time.thread_time()
    try:
        return {**operation(runtime, dict(args or {})), "instance": runtime.instance}
    finally:
        # Profiler work on a request thread (or an answer-pool thread) is the profiler's CPU.
        runtime.charge_cpu(time.thread_time() - started)


def error_to_wire(exc: BaseException) -> dict:
    """An error as it travels back to the asking instance."""
    if type(exc).__name__ in _ERRORS_BY_NAME and isinstance(exc, errors.ProfilingError):
        return {"kind": type(exc).__name__, "detail": exc.detail}
    return {"kind": "failed", "detail": "The instance failed while answering; its log has the details."}


def error_from_wire(error: dict, instance: str) -> errors.ProfilingError:
    """The exception to raise for an error another instance answered with."""
    cls = _ERRORS_BY_NAME.get(str(error.get("kind")))
    detail = str(error.get("detail") or "")[:1000]
    if cls is None:
        return errors.InstanceFailedError(f"Instance {instance}: {detail or 'failed to answer.'}")
    return cls(detail or None)

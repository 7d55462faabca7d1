"""Several instances in one dashboard: the cross-instance link over Redis (link.py).

Only link.py needs the `redis` extra (channels-redis, redis); what the views and the feed
ask of a link is the `Link` protocol below, so they import neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from profiling.core.runtime import ProfilingRuntime

WORKER_NAME = "cluster"


@runtime_checkable
class Link(Protocol):
    """What the views and the live feed use of the running cross-instance link."""

    instance: str

    def call(self, instance: str, op: str, args: dict | None = None, timeout: float | None = None) -> dict:
        """Run `op` on another instance and return its answer."""

    def latest(self, instance: str) -> dict | None:
        """Another instance's latest published record, or None."""

    def instances(self) -> list[dict]:
        """Every live instance's record."""

    def remote_history(self) -> list[dict]:
        """The other instances' recent sample messages."""


def link_of(runtime: ProfilingRuntime) -> Link | None:
    """The runtime's running link in this process, if it has one (its worker named WORKER_NAME).

    Looked up by name: every API answer asks, and an isinstance check against a runtime
    Protocol inspects the class's members on each call, a cost every answer paid.
    """
    if not runtime.running:
        return None
    return runtime.workers.get(WORKER_NAME)  # type: ignore[return-value]

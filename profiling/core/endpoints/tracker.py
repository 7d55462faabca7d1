"""What the stack sampler reads to tell which request a thread or task serves.

Two kinds of marks, both read by the sampler inside its exclusive pass over the frames:

* frames: a request-serving frame of a known code object (the web framework's request
  handler, given by `configure(key_codes=...)`) is on the sampled stack; `read_mark`
  reads the request's (method, path) from that frame when the stack below it changes. This covers a
  request's task on an event loop, where tasks of many requests interleave on one thread.
* threads: a thread marked for the time it serves one request (`mark_thread`, called on
  that thread when the request starts, `unmark_thread` when it ends): a sync view run in
  a worker thread, whose stack holds no request frame.

The innermost frame mark wins, then the thread's mark; a sample with neither is
`background`. Nothing here traces calls: the request path pays a dict store and a
delete per request, and one append when it ends (`record`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import CodeType, FrameType
from typing import TYPE_CHECKING

from profiling.core.endpoints.requests import RequestLog
from profiling.core.endpoints.routes import Resolver, RouteTable
from profiling.core.stacks.labels import CodeLabeler

if TYPE_CHECKING:
    from profiling.core.endpoints.report import WindowFigures

Mark = tuple[str, str]  # (method, path)
MarkReader = Callable[[FrameType], "Mark | None"]
# Thread marks kept at most (threads that ended without unmarking are pruned by the sampler).
MAX_THREAD_MARKS = 10_000


class EndpointTracker:
    """Request marks, the route table and the request log of one process."""

    def __init__(
        self,
        labeler: CodeLabeler | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        window_secs: float = 600.0,
    ):
        self.labeler = labeler or CodeLabeler.shared()
        self.clock = clock
        self.routes = RouteTable(self.labeler)
        self.requests = RequestLog(max_window_secs=window_secs)
        self.thread_marks: dict[int, Mark] = {}
        self.key_codes: frozenset[CodeType] = frozenset()
        self.read_mark: MarkReader | None = None
        self.enabled = False
        # The endpoints report's sums of a live window's closed buckets, kept between reports
        # (a report.WindowFigures, made by the first report).
        self.window_figures: WindowFigures | None = None

    def configure(
        self,
        *,
        resolver: Resolver,
        key_codes: Iterable[CodeType] = (),
        read_mark: MarkReader | None = None,
    ) -> None:
        """Turn attribution on: how paths resolve to routes, and which frames serve a request."""
        self.routes.resolver = resolver
        self.key_codes = frozenset(key_codes)
        self.read_mark = read_mark
        self.enabled = True

    # -- the request path ---------------------------------------------------------------

    def mark_thread(self, method: str, path: str) -> None:
        marks = self.thread_marks
        if len(marks) < MAX_THREAD_MARKS:
            marks[threading.get_ident()] = (method, path)

    def unmark_thread(self) -> None:
        self.thread_marks.pop(threading.get_ident(), None)

    def record(self, method: str, path: str, status: int, seconds: float) -> None:
        """One request ended with `status` after `seconds`."""
        self.requests.record(self.clock(), method, path, status, seconds)

    # -- the profiler's side ------------------------------------------------------------

    def route_id(self, mark: Mark | None) -> int:
        """The route label id of a mark (background without one)."""
        if mark is None:
            return self.routes.background_id
        return self.routes.label_for(mark[0], mark[1])

    def drain(self) -> int:
        """Aggregate the requests recorded since the last drain."""
        return self.requests.drain(self.routes.label_for)

    def prune_threads(self, live: Iterable[int]) -> None:
        """Drop the marks of threads that are gone."""
        marks = self.thread_marks
        alive = set(live)
        for ident in [i for i in marks if i not in alive]:
            marks.pop(ident, None)

    def after_fork(self) -> None:
        """A forked child serves its own requests: forget the parent's marks and figures."""
        self.thread_marks = {}
        self.requests = RequestLog(max_window_secs=self.requests.max_window_secs)
        self.window_figures = None

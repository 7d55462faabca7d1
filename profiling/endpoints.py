"""Attribution of samples and requests to the host's Django routes (profiling/core/endpoints).

`install(runtime)` is called by the server entry points (`profiling.asgi.wrap`,
`profiling.wsgi.wrap`). It tells the runtime's endpoint tracker

* how a path resolves to its route: Django's own resolver, called on the profiler's
  thread (cached per method and path), never on the request path;
* which frames serve a request: Django's request handlers (`get_response` under WSGI,
  the request's task under ASGI), whose `request` local the sampler reads (again whenever the stack below it changes),
  and the task asgiref starts on the loop to run an async view or middleware for a sync
  middleware (`async_to_sync`), which starts in Django's view handler or a middleware;
* which threads serve a request: a thread is marked by the `request_started` signal and
  unmarked by `request_finished`. Under ASGI Django sends both from the request's own
  thread-sensitive worker thread, the one its sync views and middleware run in. The same
  receiver sets a context variable: an async view under WSGI runs in a thread and event
  loop asgiref starts for it (`async_to_sync`), whose task starts in `main_wrap` with a
  copy of the request thread's context, where the sampler finds it.

The entry points record each request's method, path, status and duration.
"""

from __future__ import annotations

import contextvars

from asgiref.sync import AsyncToSync
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.core.signals import request_finished, request_started
from django.urls import Resolver404, resolve
from django.utils.deprecation import MiddlewareMixin

from profiling.core.runtime import ProfilingRuntime


def resolve_route(path: str) -> tuple[str, str | None] | None:
    """(route pattern with a leading slash, URL name) of a path, None when no route matches."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return (readable_route(match.route or ""), match.view_name or None)


def readable_route(route: str) -> str:
    """A route as a user reads it: `/items/<int:pk>`; a `re_path` regex without its anchors,
    optional trailing slash and group syntax (`^snapshot/(?P<id>[^/]+)/?$` -> `/snapshot/<id>`)."""
    route = route.lstrip("^")
    for tail in ("\\Z", "$"):
        route = route.removesuffix(tail)
    route = route.removesuffix("/?")
    out, at = [], 0
    while at < len(route):
        if route.startswith("(?P<", at):
            name_end = route.find(">", at)
            depth, end = 0, at
            while end < len(route):  # the group's closing parenthesis (groups may nest)
                if route[end] == "\\":
                    end += 2
                    continue
                depth += {"(": 1, ")": -1}.get(route[end], 0)
                if depth == 0:
                    break
                end += 1
            if name_end < 0 or end >= len(route):
                out.append(route[at:])  # not a group after all: keep the rest as it is
                break
            out.append("<" + route[at + 4 : name_end] + ">")
            at = end + 1
        else:
            out.append(route[at])
            at += 1
    return "/" + "".join(out).removeprefix("/")


def request_codes() -> list:
    """Code objects of Django's frames that hold the request they serve in a `request` local."""
    codes = [BaseHandler.get_response.__code__, BaseHandler.get_response_async.__code__]
    codes.append(ASGIHandler.run_get_response.__code__)
    # An async view behind a sync-only middleware runs in a task of its own that asgiref
    # starts on the loop (async_to_sync): it starts in the view's handler or a middleware.
    codes += [BaseHandler._get_response.__code__, BaseHandler._get_response_async.__code__]
    codes += [MiddlewareMixin.__call__.__code__, MiddlewareMixin.__acall__.__code__]
    # An async view under WSGI: asgiref's task in a loop of its own, with the caller's context.
    codes.append(AsyncToSync.main_wrap.__code__)
    # The request's own task under ASGI starts in a function nested in ASGIHandler.handle.
    codes.extend(
        const
        for const in ASGIHandler.handle.__code__.co_consts
        if getattr(const, "co_name", "") == "process_request"
    )
    return codes


# The request a context serves, as (method, path): set by the request_started receiver.
REQUEST_MARK: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "riptide_request_mark", default=None
)


def read_request_mark(frame) -> tuple[str, str] | None:
    """(method, path) of the request held by one of those frames in its `request` local,
    or for asgiref's `main_wrap`, in the context it runs its coroutine in."""
    found = frame.f_locals
    request = found.get("request")
    if request is None:
        context = found.get("context")
        if isinstance(context, list) and context and isinstance(context[0], contextvars.Context):
            mark = context[0].get(REQUEST_MARK)
            return mark if isinstance(mark, tuple) else None
        return None
    method = getattr(request, "method", None)
    path = getattr(request, "path_info", None)
    if isinstance(method, str) and isinstance(path, str):
        return (method, path)
    return None


def _path_of(scope: dict) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


class _SignalMarks:
    """Mark the thread that sends request_started until it sends request_finished."""

    def __init__(self, runtime: ProfilingRuntime):
        self.runtime = runtime

    def started(self, sender, environ=None, scope=None, **kwargs) -> None:
        if scope is not None:
            method, path = scope.get("method", ""), _path_of(scope)
        elif environ is not None:
            method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        else:
            return
        self.runtime.endpoints.mark_thread(method, path)
        REQUEST_MARK.set((method, path))

    def finished(self, sender, **kwargs) -> None:
        self.runtime.endpoints.unmark_thread()
        REQUEST_MARK.set(None)


_installed: dict[int, _SignalMarks] = {}


def install(runtime: ProfilingRuntime) -> None:
    """Turn on per-route attribution for this runtime (idempotent)."""
    runtime.endpoints.configure(
        resolver=resolve_route, key_codes=request_codes(), read_mark=read_request_mark
    )
    if id(runtime) in _installed:
        return
    marks = _installed[id(runtime)] = _SignalMarks(runtime)
    request_started.connect(
        marks.started, dispatch_uid=f"riptide-endpoints-started-{id(runtime)}", weak=False
    )
    request_finished.connect(
        marks.finished, dispatch_uid=f"riptide-endpoints-finished-{id(runtime)}", weak=False
    )


def asgi_path(scope: dict) -> str:
    return _path_of(scope)

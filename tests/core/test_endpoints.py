"""Per-route attribution with injected frames, threads and clocks, and the request log: exact figures."""

from __future__ import annotations

import threading

import pytest

from profiling.core.endpoints.report import WindowFigures, endpoints_report, route_figures, route_totals
from profiling.core.endpoints.requests import HISTOGRAM_BOUNDS, RequestLog, RouteRequests
from profiling.core.endpoints.routes import RouteTable
from profiling.core.endpoints.tracker import EndpointTracker
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.report import flame_tree
from tests.core.stackfakes import ROOT, Driver, FakeFrame

ROUTES = {"/a": ("/a", "a"), "/b/1": ("/b/<int:id>", "b"), "/b/2": ("/b/<int:id>", "b")}


def loop_run():
    return 0


def serve_request():
    return 0


def work_a():
    return 1


def work_b():
    return 2


def helper():
    return 3


def chain(*parts) -> FakeFrame:
    """Frames outermost first; a (function, mark) pair is a request frame holding that request."""
    frame = None
    for part in parts:
        function, mark = part if isinstance(part, tuple) else (part, None)
        frame = FakeFrame(function.__code__, function.__module__, frame)
        frame.mark = mark
    return frame


def attributed_driver() -> tuple[Driver, EndpointTracker]:
    driver = Driver()
    tracker = EndpointTracker(driver.sampler.labeler, clock=lambda: driver.now)
    tracker.configure(
        resolver=ROUTES.get, key_codes=[serve_request.__code__], read_mark=lambda f: getattr(f, "mark", None)
    )
    driver.sampler.endpoints = tracker
    return driver, tracker


def report_of(driver: Driver, tracker: EndpointTracker, requests, figures=None) -> dict:
    return endpoints_report(
        driver.totals(),
        requests,
        tracker.routes,
        driver.sampler.labeler,
        driver.sampler.attributed_position,
        limit=10,
        sample_hz=10.0,
        timestamp=0.0,
        started=0.0,
        perf_counter=lambda: 0.0,
        figures=figures,
    )


def by_route(driver: Driver, tracker: EndpointTracker) -> dict[str, tuple[int, float]]:
    """endpoint -> (busy samples, cpu secs) in the window."""
    found: dict[str, list] = {}
    for stack, stats in driver.totals().stacks.items():
        entry = found.setdefault(tracker.routes.routes[stack[0]].endpoint, [0, 0.0])
        entry[0] += stats.samples
        entry[1] += stats.cpu_secs
    return {k: (v[0], round(v[1], 9)) for k, v in found.items()}


def test_two_threads_on_two_routes_are_never_mixed_up():
    driver, tracker = attributed_driver()
    driver.frames = {
        1: chain(loop_run, (serve_request, ("GET", "/a")), work_a),
        2: chain(loop_run, (serve_request, ("POST", "/b/1")), work_b),
    }
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(10.0)  # baselines
    for step in (1, 2, 3):
        driver.cpu[1] += 0.05
        driver.cpu[2] += 0.05
        driver.sample(10.0 + 0.1 * step)
    assert by_route(driver, tracker) == {"GET /a": (3, 0.15), "POST /b/<int:id>": (3, 0.15)}
    labels = driver.sampler.labeler
    for stack in driver.totals().stacks:
        names = [labels.label(i).function_name for i in stack[1:]]
        assert names[-1] == (
            f"{__name__}.work_a" if stack[0] == tracker.routes.by_endpoint("GET /a") else f"{__name__}.work_b"
        )


def test_an_async_task_switch_between_samples_moves_the_loop_thread_to_the_other_route():
    driver, tracker = attributed_driver()
    loop = chain(loop_run)
    task_a = FakeFrame(serve_request.__code__, __name__, loop)
    task_a.mark = ("GET", "/a")
    driver.frames = {1: FakeFrame(work_a.__code__, __name__, task_a)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.1
    driver.sample(1.1)  # task A runs
    # The same request, deeper: its request frame is in the part of the stack reused from the last walk.
    driver.frames = {1: FakeFrame(helper.__code__, __name__, FakeFrame(work_a.__code__, __name__, task_a))}
    driver.cpu[1] = 0.2
    driver.sample(1.2)
    task_b = FakeFrame(serve_request.__code__, __name__, loop)
    task_b.mark = ("GET", "/b/2")
    driver.frames = {1: FakeFrame(work_b.__code__, __name__, task_b)}
    driver.cpu[1] = 0.3
    driver.sample(1.3)  # the loop switched to task B
    driver.frames = {1: FakeFrame(helper.__code__, __name__, loop)}
    driver.cpu[1] = 0.4
    driver.sample(1.4)  # the loop's own work between tasks
    assert by_route(driver, tracker) == {
        "GET /a": (2, 0.2),
        "GET /b/<int:id>": (1, 0.1),
        "background": (1, 0.1),
    }


def test_a_route_change_inside_one_interval_charges_the_interval_to_the_route_at_the_sample():
    driver, tracker = attributed_driver()
    driver.frames = {1: chain(loop_run, (serve_request, ("GET", "/a")), work_a)}
    driver.cpu[1] = 0.0
    driver.sample(5.0)
    driver.cpu[1] = 0.1
    driver.sample(5.1)
    # Request /a ended and /b/1 began on the same thread between two samples.
    driver.frames = {1: chain(loop_run, (serve_request, ("GET", "/b/1")), work_b)}
    driver.cpu[1] = 0.2
    driver.sample(5.2)
    assert by_route(driver, tracker) == {"GET /a": (1, 0.1), "GET /b/<int:id>": (1, 0.1)}


def test_a_thread_mark_attributes_a_stack_with_no_request_frame_and_is_dropped_with_its_thread():
    driver, tracker = attributed_driver()
    frame = chain(loop_run, work_a)
    driver.frames = {7: frame}
    driver.cpu[7] = 0.0
    driver.sample(1.0)
    tracker.thread_marks[7] = ("GET", "/a")
    driver.cpu[7] = 0.1
    driver.sample(1.1)  # the same frames, a new request: the mark decides
    tracker.thread_marks.pop(7)
    driver.cpu[7] = 0.2
    driver.sample(1.2)
    assert by_route(driver, tracker) == {"GET /a": (1, 0.1), "background": (1, 0.1)}
    tracker.thread_marks[8] = ("GET", "/a")  # a thread that ended without unmarking
    tracker.thread_marks[9] = ("GET", "/a")
    driver.sample(1.3)
    assert tracker.thread_marks == {}


def test_a_request_frame_beats_the_thread_mark_and_unreadable_frames_give_none():
    driver, tracker = attributed_driver()
    driver.frames = {3: chain(loop_run, (serve_request, ("GET", "/b/1")), work_b)}
    tracker.thread_marks[3] = ("GET", "/a")
    driver.cpu[3] = 0.0
    driver.sample(1.0)
    driver.cpu[3] = 0.1
    driver.sample(1.1)
    tracker.read_mark = lambda frame: 1 / 0  # a request frame whose request cannot be read
    driver.frames = {3: chain(loop_run, (serve_request, ("GET", "/b/1")), work_b)}
    driver.cpu[3] = 0.2
    driver.sample(1.2)
    assert by_route(driver, tracker) == {"GET /b/<int:id>": (1, 0.1), "GET /a": (1, 0.1)}


def test_flame_graphs_leave_the_route_label_out_and_route_totals_keep_one_route():
    driver, tracker = attributed_driver()
    driver.frames = {
        1: chain(loop_run, (serve_request, ("GET", "/a")), work_a),
        2: chain(loop_run, (serve_request, ("GET", "/b/1")), work_b),
    }
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(1.0)
    driver.cpu.update({1: 0.3, 2: 0.1})
    driver.sample(1.1)
    totals = driver.totals()
    tree = flame_tree(totals, driver.sampler.labeler, is_route=tracker.routes.is_route)
    assert [c["name"] for c in tree["children"]] == [f"{__name__}.loop_run"]
    only_a = route_totals(totals, tracker.routes.by_endpoint("GET /a"))
    assert only_a.busy_samples == 1 and [s[-1] for s in only_a.stacks] == [
        driver.sampler.labeler.label_id(work_a.__code__, __name__)
    ]


def test_routes_are_bounded_and_methods_normalised():
    table = RouteTable(CodeLabeler(project_root=str(ROOT)), max_routes=2)
    table.resolver = lambda path: None if path == "/nope" else (path, None)
    a, b = table.label_for("GET", "/a"), table.label_for("get", "/b")
    assert [table.routes[i].endpoint for i in (a, b)] == ["GET /a", "GET /b"]
    assert table.label_for("POST", "/c") == table.other_id  # past the cap
    assert table.label_for("BREW", "/a") == table.other_id  # a new (method, route): also past it
    assert table.label_for("GET", "/nope") == table.unmatched_id
    table.resolver = lambda path: 1 / 0
    assert table.label_for("GET", "/broken") == table.unmatched_id
    assert table.by_endpoint("GET /a") == a and table.by_endpoint("GET /zzz") is None


def test_request_log_counts_errors_and_reads_quantiles_within_one_percent():
    now = [100.0]
    table = RouteTable(CodeLabeler(project_root=str(ROOT)))
    table.resolver = ROUTES.get
    log = RequestLog(bucket_secs=5.0, max_window_secs=60.0)
    for _ in range(98):
        log.record(now[0], "GET", "/a", 200, 0.010)
    log.record(now[0], "GET", "/a", 503, 1.0)
    log.record(now[0], "GET", "/a", 200, 2.0)
    log.record(now[0], "GET", "/b/1", 200, 0.0005)
    log.record(now[0], "GET", "/b/2", 500, 0.004)
    assert log.drain(table.label_for) == 102
    window = log.window(now[0], 10.0)
    a, b = window[table.by_endpoint("GET /a")], window[table.by_endpoint("GET /b/<int:id>")]
    assert (a.requests, a.errors, b.requests, b.errors) == (100, 1, 2, 1)
    assert a.quantile(0.5) == pytest.approx(0.010, rel=0.01)
    assert a.quantile(0.99) == pytest.approx(1.0, rel=0.01)
    assert a.quantile(1.0) == pytest.approx(2.0, rel=0.01)
    assert RouteRequests().quantile(0.5) is None
    # Outside the window (buckets start at or after now - window): gone; the totals keep them.
    assert log.window(now[0] + 60.0, 10.0) == {}
    total = log.totals()[table.by_endpoint("GET /a")]
    assert (total.requests, total.errors, round(total.seconds, 6)) == (100, 1, 3.98)
    assert (
        total.buckets[HISTOGRAM_BOUNDS.index(0.01)] == 98 and total.buckets[HISTOGRAM_BOUNDS.index(1.0)] == 1
    )
    assert total.buckets[HISTOGRAM_BOUNDS.index(2.5)] == 1


def test_a_full_request_log_drops_the_oldest_and_counts_them():
    log = RequestLog(max_pending=2)
    for i in range(5):
        log.record(1.0, "GET", f"/{i}", 200, 0.001)
    assert log.dropped == 3
    seen = []
    assert log.drain(lambda method, path: seen.append(path) or 0) == 2
    assert seen == ["/3", "/4"]


def test_the_tracker_marks_the_calling_thread_and_forgets_everything_after_a_fork():
    tracker = EndpointTracker(CodeLabeler(project_root=str(ROOT)))
    tracker.mark_thread("GET", "/a")
    assert tracker.thread_marks == {threading.get_ident(): ("GET", "/a")}
    tracker.unmark_thread()
    assert tracker.thread_marks == {}
    tracker.mark_thread("GET", "/a")
    tracker.record("GET", "/a", 200, 0.1)
    tracker.after_fork()
    assert tracker.thread_marks == {} and tracker.drain() == 0


def test_endpoints_report_sorts_by_busy_share_with_requests_and_hotspots():
    driver, tracker = attributed_driver()
    driver.frames = {
        1: chain(loop_run, (serve_request, ("GET", "/a")), work_a),
        2: chain(loop_run, (serve_request, ("GET", "/b/1")), work_b),
    }
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(1.0)
    for step in (1, 2, 3, 4):
        driver.cpu[1] += 0.075  # a: three quarters of each interval's CPU
        driver.cpu[2] += (
            0.025 if step == 1 else 0.0
        )  # b: ran once, then busy off the CPU (its leaf is no wait)
        driver.sample(1.0 + 0.1 * step)
    for _ in range(3):
        tracker.record("GET", "/a", 200, 0.02)
    tracker.record("GET", "/b/1", 500, 0.5)
    tracker.drain()
    body = report_of(driver, tracker, tracker.requests.window(driver.now, 60))
    rows = body["endpoints"]
    assert [r["endpoint"] for r in rows] == ["GET /a", "GET /b/<int:id>"]
    a, b = rows
    assert (a["requests"], a["errors"], a["samples"], b["requests"], b["errors"], b["samples"]) == (
        3,
        0,
        4,
        1,
        1,
        4,
    )
    # Both ran in the first interval and share it; a ran alone in the other three.
    assert a["cpu_ms_per_request"] == pytest.approx(350.0 / 3, abs=0.001)
    assert (a["cpu_time_percent"], b["cpu_time_percent"]) == (87.5, 12.5)
    # Equal busy time (b was busy off the CPU): the route with more requests first.
    assert (a["busy_time_percent"], b["busy_time_percent"]) == (50.0, 50.0)
    assert a["latency_ms"]["p50"] == pytest.approx(20.0, rel=0.01)
    assert (
        a["hotspots"][0]["function_name"] == f"{__name__}.work_a" and a["route"] == "/a" and a["name"] == "a"
    )


def test_request_log_between_two_times_and_none_once_the_start_is_no_longer_held():
    log = RequestLog(bucket_secs=5.0, max_window_secs=20.0)
    for end in (100.0, 104.0, 106.0, 111.0):
        log.record(end, "GET", "/a", 200, 0.01)
    log.drain(lambda method, path: 7)
    assert log.between(100.0, 110.0)[7].requests == 3  # buckets 100 and 105
    assert log.between(105.0, 120.0)[7].requests == 2
    assert log.between(95.0, 110.0) is None  # before the oldest bucket held
    for end in (130.0, 140.0, 150.0):  # the ring keeps 5 buckets: 100 and 105 go
        log.record(end, "GET", "/a", 200, 0.01)
    log.drain(lambda method, path: 7)
    assert log.between(100.0, 110.0) is None


def test_an_endpoints_report_without_request_figures_gives_nulls_and_its_samples():
    driver, tracker = attributed_driver()
    driver.frames = {1: chain(loop_run, (serve_request, ("GET", "/a")), work_a)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.1
    driver.sample(1.1)
    body = report_of(driver, tracker, None)
    [row] = body["endpoints"]
    assert (row["requests"], row["errors"], row["cpu_ms_per_request"], row["samples"]) == (
        None,
        None,
        None,
        1,
    )
    assert row["latency_ms"] == {"p50": None, "p95": None, "p99": None}
    assert "no longer held" in body["note"]


def test_a_request_frame_whose_id_is_reused_by_the_next_request_is_read_again():
    """A WSGI worker's handler frame (or a task's first coroutine) of the next request may get
    the returned one's id, with the same code and caller: the walk reuses it, the mark is re-read."""
    driver, tracker = attributed_driver()
    loop = chain(loop_run)
    handler = FakeFrame(serve_request.__code__, __name__, loop)
    handler.mark = ("GET", "/a")
    driver.frames = {1: FakeFrame(work_a.__code__, __name__, handler)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.1
    driver.sample(1.1)
    handler.mark = ("GET", "/b/1")  # the same frame object: the same id, code and caller
    driver.frames = {1: FakeFrame(work_b.__code__, __name__, handler)}
    driver.cpu[1] = 0.2
    driver.sample(1.2)
    handler.mark = None  # a frame of that code that holds no request now
    driver.frames = {1: FakeFrame(helper.__code__, __name__, handler)}
    driver.cpu[1] = 0.3
    driver.sample(1.3)
    assert by_route(driver, tracker) == {
        "GET /a": (1, 0.1),
        "GET /b/<int:id>": (1, 0.1),
        "background": (1, 0.1),
    }


def rounded(figures) -> tuple:
    sums, spots = figures
    return (
        {r: [round(x, 9) for x in e] for r, e in sums.items()},
        {r: {label: [round(x, 9) for x in e] for label, e in found.items()} for r, found in spots.items()},
    )


def test_a_live_windows_route_figures_sum_its_closed_buckets_once_and_match_a_full_pass():
    driver, tracker = attributed_driver()
    driver.frames = {
        1: chain(loop_run, (serve_request, ("GET", "/a")), work_a),
        2: chain(loop_run, (serve_request, ("GET", "/b/1")), helper),
    }
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(1.0)
    for step in range(1, 26):  # 2.5 s of samples in 1 s buckets: 1 and 2 closed, 3 the newest
        driver.cpu[1] += 0.06
        driver.cpu[2] += 0.02
        if step == 15:
            driver.frames[2] = chain(loop_run, (serve_request, ("GET", "/b/1")), work_b)
        driver.sample(1.0 + 0.1 * step)
    is_route, position_of = tracker.routes.is_route, driver.sampler.attributed_position
    looked_up = []

    def counted(stack):
        looked_up.append(stack)
        return position_of(stack)

    kept = WindowFigures()
    totals = driver.totals()
    full = route_figures(totals.stacks, is_route, position_of)
    assert rounded(kept.of(totals, is_route, counted)) == rounded(full)
    assert len(full[1][tracker.routes.by_endpoint("GET /b/<int:id>")]) == 2  # helper, then work_b
    closed, newest = totals.parts
    assert closed.stacks and newest.stacks
    looked_up.clear()
    again = driver.totals()
    assert again.parts[0] is closed  # no bucket closed since: the same closed part
    assert rounded(kept.of(again, is_route, counted)) == rounded(full)
    assert len(looked_up) == len(newest.stacks)  # only the newest bucket's stacks were read
    # the kept sums of the closed part are the closed part's still: adding to them changed nothing
    assert rounded(kept.of(again, is_route, position_of)) == rounded(full)
    assert rounded(route_figures(closed.stacks, is_route, position_of)) == rounded(kept._closed[1])
    plain, reused = (
        report_of(driver, tracker, None),
        report_of(driver, tracker, None, kept.of(again, is_route, position_of)),
    )
    assert reused == plain

"""The stack sampler with injected frames, threads and CPU clocks: exact figures."""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from profiling.core.stacks.report import MIN_RANKED_BUSY_SAMPLES, bottlenecks_report, bound_split
from profiling.core.stacks.sampler import StackSampler
from tests.core.stackfakes import Driver, FakeFrame, call_offset, stack_of


def handler():
    return json.dumps({})


def render():
    return 1


def napper():
    time.sleep(1)


def report(driver: Driver, scope: str = "app", limit: int = 10, min_ranked_samples: int = 1) -> dict:
    return bottlenecks_report(
        driver.totals(),
        driver.sampler.labeler,
        driver.sampler.attributed_position,
        scope=scope,
        limit=limit,
        window_secs=60,
        sample_hz=driver.sampler.sample_hz,
        timestamp=0.0,
        started=0.0,
        min_ranked_samples=min_ranked_samples,
        perf_counter=lambda: 0.0,
    )


def two_busy_threads() -> Driver:
    """Thread 2 runs at the first sample after the baseline, thread 1 at the four after it."""
    driver = Driver()
    driver.frames = {
        1: stack_of(threading.Thread.run, handler, json.encoder.JSONEncoder.encode),
        2: stack_of(threading.Thread.run, render),
    }
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(10.0)  # the sampler's first tick: baselines only
    driver.cpu[2] = 0.025
    driver.sample(10.1)
    for step in (1, 2, 3, 4):  # thread 2's clock no longer moves: off the CPU
        driver.cpu[1] = 0.1 * step
        driver.sample(10.1 + 0.1 * step)
    return driver


def test_stack_sampler_threads_running_at_one_sample_share_its_interval():
    """Python threads share one GIL: two running at a sample have half of its interval each."""
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, handler), 2: stack_of(threading.Thread.run, render)}
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(1.0)
    driver.cpu.update({1: 0.05, 2: 0.05})
    driver.sample(1.1)
    driver.cpu[1] = 0.15
    driver.sample(1.2)
    totals = driver.totals()
    cpu = {
        driver.sampler.labeler.label(stack[-1]).function_name: stats.cpu_secs
        for stack, stats in totals.stacks.items()
    }
    assert cpu == {f"{__name__}.handler": pytest.approx(0.15), f"{__name__}.render": pytest.approx(0.05)}
    # render was busy off the CPU at the second sample (its clock did not move)
    assert (totals.cpu_secs, totals.wall_secs) == (pytest.approx(0.2), pytest.approx(0.4))


def test_stack_sampler_first_tick_takes_only_baselines_and_counts_them_discarded():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, render), 2: stack_of(threading.Thread.run, handler)}
    driver.cpu.update({1: 5.0, 2: 1.0})
    driver.sample(1.0)
    totals = driver.totals()
    assert (totals.busy_samples, totals.idle_samples, totals.unmeasured_samples) == (0, 0, 0)
    assert (totals.discarded_samples, totals.ticks) == (2, 1)


def test_stack_sampler_tick_that_stands_for_no_time_is_discarded():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.05
    driver.sample(1.0)  # the clock did not advance
    driver.cpu[1] = 0.1
    driver.sample(1.1)
    totals = driver.totals()
    assert (totals.busy_samples, totals.discarded_samples) == (1, 2)
    assert totals.cpu_secs == pytest.approx(0.1)


def test_stack_sampler_thread_seen_once_with_20_ms_of_cpu_is_counted():
    """A request thread that lives between two ticks is sampled once: that sample counts."""
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, queue.Queue.get, threading.Condition.wait)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.frames[2] = stack_of(threading.Thread.run, handler, json.encoder.JSONEncoder.encode)
    driver.cpu[2] = 0.02  # its CPU clock since it started
    driver.sample(1.1)
    del driver.frames[2]  # ended before the next tick
    driver.sample(1.2)
    body = report(driver)
    assert [h["function_name"] for h in body["hotspots"]] == [f"{__name__}.handler"]
    spot = body["hotspots"][0]
    assert (spot["samples"], spot["call_count"], spot["cpu_time_percent"]) == (1, 1, 100.0)
    totals = driver.totals()
    # the sample stands for the tick's interval, on the CPU
    assert (totals.cpu_secs, totals.wall_secs) == (pytest.approx(0.1), pytest.approx(0.1))
    assert (body["busy_samples"], body["idle_samples"], body["discarded_samples"]) == (1, 2, 1)


def test_stack_sampler_new_thread_on_a_reused_ident_counts_its_own_clock():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.threads = {1: SimpleNamespace(name="request-1")}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 5.0
    driver.sample(1.1)
    # the thread ended and a new one got its ident: its clock starts again from zero
    driver.frames = {1: stack_of(threading.Thread.run, handler)}
    driver.threads = {1: SimpleNamespace(name="request-2")}
    driver.cpu[1] = 0.003
    driver.sample(1.2)
    names = {h["function_name"]: h["cpu_time_percent"] for h in report(driver)["hotspots"]}
    assert names == {f"{__name__}.render": 50.0, f"{__name__}.handler": 50.0}


def test_stack_sampler_gives_a_sleeper_after_cpu_heavy_code_none_of_its_cpu():
    """The CPU of the interval before a sample belongs to the code that ran then, not to a sleeper."""
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, handler)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.1
    driver.sample(1.1)  # handler running
    for step, now in enumerate((1.2, 1.3), start=1):
        # the thread burned 90 ms in handler, then called napper, which now sleeps
        driver.frames = {1: stack_of(threading.Thread.run, napper, lasti=call_offset(napper, "sleep"))}
        driver.cpu[1] = 0.1 + 0.09 * step
        driver.sample(now)
    body = report(driver)
    assert [h["function_name"] for h in body["hotspots"]] == [f"{__name__}.handler"]
    assert body["hotspots"][0]["cpu_time_percent"] == 100.0
    assert (body["busy_samples"], body["idle_samples"]) == (1, 2)
    assert body["recommendations"] == [
        f"Critical: Optimize {__name__}.handler (100.0% CPU time, impact score: 1.00)"
    ]


def reader(sock):
    return sock.recv(1)


def locker(lock):
    return lock.acquire()


def gil_samples(frame, wants_cpu: bool) -> dict:
    """Four samples of a thread whose CPU clock moves, at `frame`, in a futex wait or not."""
    from profiling.core.stacks.idle import CalleeReader

    CalleeReader.shared().callee(frame.f_code, frame.f_lasti)  # the pass reads only known callees
    driver = Driver()
    driver.frames = {1: frame}
    driver.wants_cpu[1] = wants_cpu
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    for step in range(1, 5):
        driver.cpu[1] = 0.01 * step
        driver.sample(1.0 + 0.1 * step)
    return report(driver)


def test_stack_sampler_thread_back_from_a_blocking_call_waiting_for_the_gil_is_running():
    frame = stack_of(threading.Thread.run, reader, lasti=call_offset(reader, "recv"))
    waiting = gil_samples(frame, wants_cpu=True)
    assert (waiting["busy_samples"], waiting["cpu_bound_percent"]) == (4, 100.0)
    blocked = gil_samples(frame, wants_cpu=False)
    assert (blocked["busy_samples"], blocked["cpu_bound_percent"]) == (4, 0.0)


def test_stack_sampler_sleeper_back_from_its_sleep_and_waiting_for_the_gil_stays_idle():
    frame = stack_of(threading.Thread.run, napper, lasti=call_offset(napper, "sleep"))
    for wants_cpu in (True, False):
        body = gil_samples(frame, wants_cpu=wants_cpu)
        assert (body["busy_samples"], body["idle_samples"]) == (0, 4)


def test_stack_sampler_futex_wait_in_a_lock_or_an_idle_function_is_still_a_wait():
    lock_wait = gil_samples(
        stack_of(threading.Thread.run, locker, lasti=call_offset(locker, "acquire")), True
    )
    assert (lock_wait["busy_samples"], lock_wait["cpu_bound_percent"]) == (4, 0.0)
    pool_wait = gil_samples(stack_of(threading.Thread.run, queue.Queue.get, threading.Condition.wait), True)
    assert (pool_wait["busy_samples"], pool_wait["idle_samples"]) == (0, 4)


def waiting_driver(sample_hz: float, cpu_in_window: float = 0.0) -> tuple[Driver, list]:
    """A started driver of one running thread whose ticks' waits are recorded (secs, switch interval)."""
    waits = []
    driver = Driver(sample_hz=sample_hz)

    def wait(secs):
        waits.append((round(secs, 6), sys.getswitchinterval()))
        driver.now += secs
        driver.cpu[1] += cpu_in_window * secs
        return False

    driver.sampler._wait = wait
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.threads = {1: SimpleNamespace(name="worker")}
    driver.cpu[1] = 0.0
    driver.now = 100.0
    driver.sampler.on_start()
    return driver, waits


def ticked(cpu_in_window: float) -> tuple[Driver, list]:
    """Two real ticks (injected clock and wait): due at 100.1 and 100.2, the GIL taken 2 and 10.5 ms late."""
    driver, waits = waiting_driver(10.0, cpu_in_window)
    try:
        driver.now = 100.102
        driver.sampler.tick()
        driver.now = 100.2105
        driver.cpu[1] += 0.05  # CPU since the last tick, before the window
        driver.sampler.tick()
    finally:
        driver.sampler.gc_timer.uninstall()
    return driver, waits


def test_stack_sampler_tick_samples_at_a_fixed_time_after_it_was_due_with_a_short_switch_interval():
    """The sample's time must not depend on when the GIL came free: due + 2 switch intervals + 1 ms."""
    from profiling.core.stacks.sampler import MIN_SAMPLE_WAIT_SECS, SAMPLE_SWITCH_INTERVAL_SECS

    usual = sys.getswitchinterval()
    driver, waits = ticked(cpu_in_window=0.5)
    lead = 2 * usual + SAMPLE_SWITCH_INTERVAL_SECS
    # the second tick came later than due + lead: it still waits the minimum
    assert waits == [
        (round(lead - 0.002, 6), SAMPLE_SWITCH_INTERVAL_SECS),
        (MIN_SAMPLE_WAIT_SECS, SAMPLE_SWITCH_INTERVAL_SECS),
    ]
    assert sys.getswitchinterval() == usual
    totals = driver.totals()
    assert (totals.busy_samples, totals.discarded_samples) == (1, 1)
    interval = 100.2105 + MIN_SAMPLE_WAIT_SECS - (100.1 + lead)
    assert (totals.cpu_secs, totals.wall_secs) == (pytest.approx(interval), pytest.approx(interval))


def waits_of_wakes(sample_hz: float, wakes: list[float]) -> list[float]:
    """The waits of real ticks (injected clock and wait) whose worker woke at these times after the start."""
    driver, waits = waiting_driver(sample_hz)
    try:
        for wake in wakes:
            driver.now = 100.0 + wake
            driver.sampler.tick()
    finally:
        driver.sampler.gc_timer.uninstall()
    return [secs for secs, _interval in waits]


def test_stack_sampler_tick_that_got_the_gil_late_samples_in_its_own_interval_not_the_next():
    """At 100 Hz the lead (two switch intervals and 1 ms) is cut to 8 ms: the next tick is due at 10 ms.

    A wake the GIL held back past the middle of the interval still samples at its lead (or
    after the minimum wait): were it taken for the next tick's, it would sample 8 ms after
    that one, and the busy thread that held the GIL would be sampled less than its share.
    A wake a hair before a due time is that tick's.
    """
    from profiling.core.stacks.sampler import MIN_SAMPLE_WAIT_SECS

    lead = min(2 * sys.getswitchinterval() + 0.001, 0.008)
    waits = waits_of_wakes(100.0, [0.0100, 0.0258, 0.0375, 0.0495])
    assert waits == [
        round(lead, 6),  # due at 10 ms, woke on time
        round(0.020 + lead - 0.0258, 6),  # due at 20 ms, the GIL came free 5.8 ms late
        MIN_SAMPLE_WAIT_SECS,  # due at 30 ms, woke 7.5 ms late: past its lead
        round(0.050 + lead - 0.0495, 6),  # due at 50 ms, woke half a ms early
    ]


def test_stack_sampler_thread_that_did_not_run_just_before_the_sample_is_off_the_cpu():
    """Its clock moved since the last tick, but not in the short window before the sample: waiting for the GIL."""
    driver, _ = ticked(cpu_in_window=0.0)
    totals = driver.totals()
    assert (totals.busy_samples, totals.cpu_secs) == (1, 0.0)


def test_stack_sampler_blocking_call_after_cpu_heavy_code_is_busy_off_the_cpu():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, handler)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.1
    driver.sample(1.1)
    driver.frames = {1: stack_of(threading.Thread.run, reader, lasti=call_offset(reader, "recv"))}
    driver.cpu[1] = 0.18  # 80 ms of CPU before the thread started waiting for its socket
    driver.sample(1.2)
    body = report(driver)
    spots = {h["function_name"]: (h["cpu_time_percent"], h["wall_time_percent"]) for h in body["hotspots"]}
    assert spots == {f"{__name__}.handler": (100.0, 50.0), f"{__name__}.reader": (0.0, 50.0)}
    assert (body["cpu_bound_percent"], body["io_bound_percent"]) == (50.0, 50.0)


def test_stack_sampler_specialized_builtin_call_is_still_a_wait():
    """Once CPython 3.11 specializes a call of a built-in, the frame's offset is PRECALL's."""
    import dis

    precall = next(ins.offset for ins in dis.get_instructions(napper) if ins.opname == "PRECALL")
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, napper, lasti=precall)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.05
    driver.sample(1.1)
    assert (driver.totals().idle_samples, driver.totals().busy_samples) == (1, 0)


def test_stack_sampler_attributes_to_innermost_app_frame_with_exact_shares():
    body = report(two_busy_threads())
    top, second = body["hotspots"]
    assert top["function_name"] == f"{__name__}.handler"
    assert top["file_location"] == "tests/core/test_stacks_sampler.py"
    assert top["line_number"] == handler.__code__.co_firstlineno
    assert (top["cpu_time_percent"], top["wall_time_percent"], top["impact_score"]) == (80.0, 50.0, 0.65)
    assert second["function_name"] == f"{__name__}.render"
    assert (second["cpu_time_percent"], second["wall_time_percent"], second["impact_score"]) == (
        20.0,
        50.0,
        0.35,
    )
    assert (body["total_samples"], body["busy_samples"], body["discarded_samples"]) == (12, 10, 2)
    assert (body["cpu_bound_percent"], body["io_bound_percent"], body["memory_bound_percent"]) == (
        50.0,
        50.0,
        0.0,
    )
    assert body["recommendations"] == [
        f"Critical: Optimize {__name__}.handler (80.0% CPU time, impact score: 0.65)",
        f"Consider optimizing {__name__}.render (20.0% CPU time)",
        "50.0% of busy time was spent off the CPU (I/O, locks, waiting for the GIL): "
        "look at the hotspots with high wall_time_percent",
    ]


def test_if_busy_samples_are_too_few_to_rank_then_no_recommendation_and_a_note():
    body = report(two_busy_threads(), min_ranked_samples=MIN_RANKED_BUSY_SAMPLES)
    assert body["busy_samples"] == 10
    assert body["recommendations"] == []
    assert "Only 10 busy samples in this window: too few to rank functions" in body["note"]
    assert [h["function_name"] for h in body["hotspots"]] == [f"{__name__}.handler", f"{__name__}.render"]


def test_if_busy_samples_reach_the_minimum_then_recommendations_are_made():
    body = report(two_busy_threads(), min_ranked_samples=10)
    assert body["recommendations"][0].startswith(f"Critical: Optimize {__name__}.handler")
    assert "too few to rank" not in (body["note"] or "")


def test_stack_sampler_scope_all_ranks_leaf_frames():
    body = report(two_busy_threads(), scope="all")
    names = [h["function_name"] for h in body["hotspots"]]
    assert names == ["json.encoder.JSONEncoder.encode", f"{__name__}.render"]
    assert body["hotspots"][0]["file_location"] == "json/encoder.py"


def test_stack_sampler_limit_keeps_the_top_hotspots():
    assert [h["function_name"] for h in report(two_busy_threads(), limit=1)["hotspots"]] == [
        f"{__name__}.handler"
    ]


def test_stack_sampler_gc_time_is_memory_bound():
    driver = two_busy_threads()
    driver.gc.pending = 0.02
    driver.cpu[1] = 0.5
    driver.sample(10.6)
    # busy 1.4 thread-seconds, on the CPU 0.7 of which 0.03 in garbage collection
    driver.gc.pending = 0.01
    driver.cpu[1] = 0.6
    driver.sample(10.7)
    assert bound_split(driver.totals()) == (47.9, 50.0, 2.1)


def test_stack_sampler_never_samples_profiler_threads_or_itself():
    driver = Driver()
    own = threading.get_ident()
    driver.frames = {
        7: stack_of(threading.Thread.run, render),
        own: stack_of(threading.Thread.run, handler),
    }
    driver.threads = {7: SimpleNamespace(name="riptide-other-worker")}
    driver.cpu.update({7: 0.0, own: 0.0})
    driver.sample(1.0)
    driver.cpu.update({7: 0.1, own: 0.1})
    driver.sample(1.1)
    assert driver.totals().busy_samples == 0


def test_stack_sampler_idle_waits_are_not_busy():
    driver = Driver()
    driver.frames = {
        1: stack_of(threading.Thread.run, queue.Queue.get, threading.Condition.wait),
        2: stack_of(threading.Thread.run, napper, lasti=call_offset(napper, "sleep")),
        3: stack_of(threading.Thread.run, render),
    }
    driver.cpu.update({1: 0.0, 2: 0.0, 3: 0.0})
    driver.sample(1.0)
    driver.cpu[3] = 0.1
    driver.sample(1.1)
    body = report(driver)
    assert [h["function_name"] for h in body["hotspots"]] == [f"{__name__}.render"]
    assert (body["busy_samples"], body["idle_samples"], body["total_samples"]) == (1, 2, 6)
    assert body["cpu_bound_percent"] == 100.0


def test_stack_sampler_off_cpu_outside_a_known_wait_is_io_time():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, handler, json.encoder.JSONEncoder.encode)}
    driver.cpu[1] = 1.0
    driver.sample(1.0)
    driver.sample(1.1)  # the CPU clock did not move: off the CPU, not in a wait
    body = report(driver)
    assert body["hotspots"][0]["cpu_time_percent"] == 0.0
    assert body["hotspots"][0]["wall_time_percent"] == 100.0
    assert (body["cpu_bound_percent"], body["io_bound_percent"]) == (0.0, 100.0)


def test_stack_sampler_counts_distinct_calls_it_observed():
    driver = Driver()
    first = stack_of(threading.Thread.run, render)
    driver.frames = {1: first}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    for step in range(1, 4):  # the same call seen three times
        driver.cpu[1] = 0.1 * step
        driver.sample(1.0 + 0.1 * step)
    driver.frames = {1: stack_of(threading.Thread.run, render)}  # a new call
    driver.cpu[1] = 0.4
    driver.sample(1.4)
    spot = report(driver)["hotspots"][0]
    assert spot["call_count"] == 2
    assert spot["samples"] == 4
    assert spot["average_duration_us"] == pytest.approx(200_000.0)


def helper(n):
    return n + 1


def looper(n):
    return [helper(i) for i in range(n)]


def test_stack_sampler_counts_a_call_once_however_often_its_leaf_alternates():
    """One long call of `looper` whose samples land in it and in its helper, by turns."""
    driver = Driver()
    outer = stack_of(threading.Thread.run, looper)
    helpers = []  # kept alive: each helper call is a distinct frame
    driver.frames = {1: outer}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    for step in range(1, 9):
        if step % 2:
            helpers.append(FakeFrame(helper.__code__, __name__, outer))
            driver.frames = {1: helpers[-1]}
        else:
            driver.frames = {1: outer}
        driver.cpu[1] = 0.1 * step
        driver.sample(1.0 + 0.1 * step)
    spots = {h["function_name"]: h for h in report(driver)["hotspots"]}
    assert spots[f"{__name__}.looper"]["call_count"] == 1
    assert spots[f"{__name__}.looper"]["samples"] == 4
    assert spots[f"{__name__}.looper"]["average_duration_us"] == pytest.approx(400_000.0)
    assert spots[f"{__name__}.helper"]["call_count"] == 4
    leaves = {h["function_name"]: h["call_count"] for h in report(driver, scope="all")["hotspots"]}
    assert leaves == {f"{__name__}.looper": 1, f"{__name__}.helper": 4}


def test_stack_sampler_achieved_rate_is_ticks_over_the_window():
    driver = Driver(sample_hz=10.0)
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.cpu[1] = 0.0
    for k in range(6):  # a sampler that managed 5 ticks a second over 1.2 s
        driver.cpu[1] = 0.2 * k
        driver.sample(10.0 + 0.2 * k)
    driver.now = 11.2
    body = report(driver)
    assert (body["sample_hz"], body["achieved_sample_hz"]) == (10.0, 5.0)


def test_stack_sampler_unmeasured_samples_are_reported_and_not_called_idle():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, render), 2: stack_of(threading.Thread.run, handler)}
    driver.sample(1.0)
    driver.sample(1.1)
    driver.sample(1.2)
    body = report(driver)
    assert (body["busy_samples"], body["idle_samples"]) == (0, 0)
    assert (body["unmeasured_samples"], body["discarded_samples"], body["total_samples"]) == (4, 2, 6)
    assert body["cpu_bound_percent"] is None
    assert "every sampled thread was idle" not in body["note"]
    assert "4 thread samples could not be measured" in body["note"]
    assert "no thread sample could be measured" in body["note"]


def test_stack_sampler_forgets_threads_that_ended():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.frames = {}
    driver.sample(1.1)
    assert driver.sampler._states == {}


def test_stack_sampler_stalled_intervals_are_capped():
    driver = Driver(sample_hz=10.0)
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 30.0
    driver.sample(31.0)
    totals = driver.totals()
    assert totals.wall_secs == pytest.approx(driver.sampler.max_gap_secs)
    assert totals.cpu_secs == pytest.approx(driver.sampler.max_gap_secs)


def test_stack_sampler_unreadable_cpu_clock_counts_unmeasured():
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.sample(1.0)
    driver.sample(1.1)
    totals = driver.totals()
    assert (totals.unmeasured_samples, totals.busy_samples) == (1, 0)


def test_stack_sampler_real_thread_is_sampled_on_cpu():
    """One real sample pair over a live spinning thread, measured with its CPU clock."""
    from profiling.core.stacks.sampler import StackSampler
    from tests.stacks_workload import burn_cpu

    stop = threading.Event()
    worker = threading.Thread(target=burn_cpu, args=(stop,), name="spin")
    worker.start()
    try:
        sampler = StackSampler(100)
        sampler.sample(time.monotonic())
        time.sleep(0.2)
        sampler.sample(time.monotonic())
    finally:
        stop.set()
        worker.join()
    totals = sampler.store.window(sampler.now(), 10)
    spin = [s for s in totals.stacks if sampler.labeler.label(s[-1]).function_name.endswith("burn_cpu")]
    assert spin and totals.stacks[spin[0]].cpu_secs > 0.05


def test_stack_sampler_caps_deep_stacks_even_when_reusing_the_outer_part():
    from profiling.core.stacks.sampler import MAX_DEPTH

    driver = Driver()
    outer = stack_of(*([render] * 100))
    driver.frames = {1: outer}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.1
    driver.sample(1.1)  # walks 100 frames
    inner = outer
    for _ in range(100):  # 100 deeper frames on top of the same outer ones
        inner = FakeFrame(render.__code__, __name__, inner)
    driver.frames = {1: inner}
    driver.cpu[1] = 0.2
    driver.sample(1.2)
    stacks = list(driver.totals().stacks)
    deepest = max(stacks, key=len)
    assert len(deepest) == MAX_DEPTH + 1
    assert driver.sampler.labeler.label(deepest[0]).function_name == "[truncated]"


def test_stack_sampler_keeps_no_frame_alive_between_ticks():
    """Dropping the last reference to a returned frame runs its locals' finalizers: never on the sampler."""
    import weakref

    driver = Driver()
    leaf = stack_of(threading.Thread.run, handler, render)
    refs = [weakref.ref(leaf), weakref.ref(leaf.f_back), weakref.ref(leaf.f_back.f_back)]
    driver.frames = {1: leaf}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.cpu[1] = 0.1
    driver.sample(1.1)
    driver.frames = {1: stack_of(threading.Thread.run, render)}  # the thread moved on
    del leaf
    assert [ref() for ref in refs] == [None, None, None]
    driver.cpu[1] = 0.2
    driver.sample(1.2)
    assert report(driver)["hotspots"][0]["function_name"] == f"{__name__}.render"


def test_current_frames_pauses_the_collector_and_restores_it():
    import gc

    from profiling.core.stacks import sampler as sampler_module

    seen = []
    real = sampler_module.sys._current_frames

    def spy():
        seen.append(gc.isenabled())
        return real()

    sampler_module.sys._current_frames = spy
    try:
        assert threading.get_ident() in sampler_module.current_frames()
        gc.disable()
        sampler_module.current_frames()
        assert not gc.isenabled()  # a disabled collector stays disabled
    finally:
        gc.enable()
        sampler_module.sys._current_frames = real
    assert seen == [False, False]
    assert gc.isenabled()


def test_stack_sampler_reads_frames_with_the_collector_paused_and_no_forced_switch():
    import gc
    import sys

    driver = Driver()
    seen = []

    def frames():
        seen.append((gc.isenabled(), sys.getswitchinterval()))
        return {1: stack_of(threading.Thread.run, render)}

    driver.sampler._frames = frames
    interval = sys.getswitchinterval()
    driver.sample(1.0)
    assert seen == [(False, pytest.approx(0.1))]
    assert gc.isenabled() and sys.getswitchinterval() == interval


def test_stack_sampler_attributed_frame_cache_is_bounded_by_the_frames_it_holds():
    from profiling.core.stacks.sampler import MAX_INDEXED_FRAMES

    sampler = Driver().sampler
    depth = 100
    for n in range(5000):  # 500 000 label ids in distinct stacks, no application frame
        stack = tuple((n >> bit) & 1 for bit in range(16)) + (2,) * (depth - 16)
        assert sampler.attributed_position(stack) == depth - 1
    assert sampler._app_index_frames <= MAX_INDEXED_FRAMES
    assert len(sampler._app_index) * depth <= MAX_INDEXED_FRAMES


def test_stack_sampler_an_event_loop_polling_below_its_driver_is_idle_and_its_own_work_is_busy():
    """uvloop polls in C: the Python leaf is the loop's driver, whether it waits or works."""
    import asyncio.runners

    driver = Driver()
    driver.frames = {1: stack_of(asyncio.runners.Runner.run)}
    driver.cpu[1] = 0.0
    driver.sample(1.0)
    driver.sample(1.1)
    driver.sample(1.2)  # the CPU clock did not move: waiting in the C poll
    for step, now in enumerate((1.3, 1.4), start=1):
        driver.cpu[1] = 0.09 * step  # the loop's own work, in C
        driver.sample(now)
    body = report(driver)
    assert (body["busy_samples"], body["idle_samples"]) == (2, 2)
    assert body["hotspots"][0]["function_name"] == "asyncio.runners.Runner.run"
    assert body["cpu_bound_percent"] == 100.0


def test_stack_sampler_an_event_loop_back_in_its_poll_at_the_sample_is_idle_however_much_it_just_ran():
    """uvloop: the loop ran a callback, then went back to epoll_wait before the sample."""
    import asyncio.runners

    driver = Driver()
    driver.frames = {1: stack_of(asyncio.runners.Runner.run), 2: stack_of(threading.Thread.run, handler)}
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(1.0)
    driver.sample(1.1)  # labels the loop's leaf
    driver.wants_cpu[1] = False  # in a system call that is not a futex wait: the poll
    driver.cpu[1], driver.cpu[2] = 0.02, 0.08
    driver.sample(1.2)
    driver.wants_cpu[1] = True  # running (or waiting for the GIL) at the sample: its own work
    driver.cpu[1], driver.cpu[2] = 0.04, 0.16
    driver.sample(1.3)
    body = report(driver)
    # The worker's three samples (off the CPU at 1.1) and the loop's at 1.3; the loop idle at 1.1 and 1.2.
    assert (body["busy_samples"], body["idle_samples"]) == (4, 2)
    spots = {h["function_name"]: h for h in body["hotspots"]}
    # At 1.2 the worker had the interval to itself; at 1.3 both ran and split it evenly.
    assert spots["asyncio.runners.Runner.run"]["samples"] == 1
    assert spots[f"{__name__}.handler"]["cpu_time_percent"] == 75.0


def test_stack_sampler_threads_running_at_one_sample_split_it_by_the_cpu_each_just_used():
    """A loop thread woken for a moment beside a busy one gets its moment, not half."""
    driver = Driver()
    driver.frames = {1: stack_of(threading.Thread.run, handler), 2: stack_of(threading.Thread.run, render)}
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(1.0)
    driver.cpu.update({1: 0.09, 2: 0.01})
    driver.now = 1.1
    # In the last millisecond before the sample: thread 1 ran 0.9 ms, thread 2 0.1 ms.
    driver.sampler.sample(1.1, recent=({1: 0.09 - 0.0009, 2: 0.01 - 0.0001}, 0.001))
    totals = driver.totals()
    cpu = {
        driver.sampler.labeler.label(stack[-1]).function_name: stats.cpu_secs
        for stack, stats in totals.stacks.items()
    }
    assert cpu == {f"{__name__}.handler": pytest.approx(0.09), f"{__name__}.render": pytest.approx(0.01)}


class BudgetClocks:
    """The clock, the sampler thread's CPU and the process's CPU, advanced by hand."""

    def __init__(self):
        self.now, self.own, self.process = 100.0, 0.0, 50.0

    def sampler(self, sample_hz: float, share: float | None) -> StackSampler:
        return StackSampler(
            sample_hz,
            history=False,
            clock=lambda: self.now,
            max_cpu_share=share,
            own_cpu=lambda: self.own,
            process_cpu=lambda: self.process,
        )


def budget_run(ticks: list[float], process_cores: float = 0.5) -> list[int]:
    """Slots asked for after each tick of these costs (in U = 1/1024 s), at 8 Hz with a budget of 1/64.

    At half a core the process earns the sampler U an interval; a fresh sampler's first
    call only reads the clocks (not listed).
    """
    clocks = BudgetClocks()
    sampler = clocks.sampler(8.0, 1 / 64)
    assert sampler.slots_to_next_tick() == 1
    clocks.now += 60.0  # the first minute: no budget (see the test below)
    clocks.process += 30.0
    assert sampler.slots_to_next_tick() == 1
    slots, asked = 1, []
    for units in ticks:
        secs = slots * sampler.interval  # the intervals asked for pass; the process runs
        clocks.now += secs
        clocks.own += units / 1024
        clocks.process += process_cores * secs
        slots = sampler.slots_to_next_tick()
        asked.append(slots)
    assert sampler.skipped_ticks == sum(asked) - len(asked)
    return asked


def test_stack_sampler_over_its_share_of_the_process_cpu_spreads_its_ticks_evenly():
    assert budget_run([0.5] * 4) == [1, 1, 1, 1]  # under budget: every due tick
    assert budget_run([2.0] * 4) == [2, 2, 2, 2]  # twice the budget: every other one
    assert budget_run([1.5] * 4) == [2, 1, 2, 1]  # 1.5 times: two ticks in three intervals
    assert budget_run([2.0] * 4, process_cores=1.0) == [1, 1, 1, 1]  # a busier process earns more
    # A nearly idle process earns as half a core would (U): a 4 U tick, one in four.
    assert budget_run([4.0] * 3, process_cores=0.0) == [4, 4, 4]
    assert budget_run([100.0]) == [8]  # never past the 1 s a sample may stand for


def test_stack_sampler_budget_applies_from_the_samplers_first_minute_on():
    """Start-up fills the label caches (dear ticks, paid once); the first minute is sampled in full."""
    clocks = BudgetClocks()
    sampler = clocks.sampler(8.0, 1 / 64)
    asked = []
    for _ in range(8 * 60 + 2):  # the first call marks the start; 60 s later a full interval ends
        clocks.now += sampler.interval
        clocks.own += 0.01  # ten times the budget
        clocks.process += 0.5 * sampler.interval
        asked.append(sampler.slots_to_next_tick())
    assert set(asked[:-1]) == {1} and asked[-1] > 1
    assert sampler.skipped_ticks == asked[-1] - 1


def test_stack_sampler_budget_follows_a_change_of_cost_slowly_not_the_last_tick():
    """The averages move 5 % of the way a tick: 0.5 U ticks turning to 2 U pass U after 8 ticks.

    What one sample found (a request running makes its tick dearer) must not decide how
    long the next one waits.
    """
    assert budget_run([0.5] * 3 + [2.0] * 8) == [1] * 3 + [1] * 7 + [2]
    # One 40 U tick moves the average cost to 2.475 U: about one tick in 2.5 for a while,
    # back to every tick once the average is under U again (after 27 cheap ticks).
    after_one_dear = budget_run([0.5, 40.0] + [0.5] * 40)
    assert after_one_dear[:4] == [1, 3, 2, 3]
    assert after_one_dear[29:] == [1] * 13


def test_stack_sampler_without_a_budget_ticks_every_interval_and_the_budget_is_validated():
    clocks = BudgetClocks()
    sampler = clocks.sampler(10.0, None)
    for _ in range(3):
        clocks.own += 1.0
        clocks.now += 0.1
        assert sampler.slots_to_next_tick() == 1
    with pytest.raises(ValueError):
        StackSampler(10.0, history=False, max_cpu_share=0.0)


def test_stack_sampler_sample_after_skipped_ticks_stands_for_the_whole_time_since_the_last():
    """Two intervals skipped: the next sample's CPU and wall are the 0.3 s since the last one."""
    driver = Driver(sample_hz=10.0)
    driver.frames = {1: stack_of(threading.Thread.run, render)}
    driver.threads = {1: SimpleNamespace(name="worker")}
    driver.cpu[1] = 0.0
    driver.sample(100.0)
    driver.cpu[1] = 0.1
    driver.sample(100.1)
    driver.cpu[1] = 0.4
    driver.sample(100.4)
    totals = driver.totals()
    assert (totals.busy_samples, totals.cpu_secs, totals.wall_secs) == (
        2,
        pytest.approx(0.4),
        pytest.approx(0.4),
    )

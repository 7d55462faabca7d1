"""Labels, idle callees, the bucket store, flame graphs and the GC timer of the stack profiler."""

from __future__ import annotations

import gc
import os
import queue
import threading
import time

import pytest

from profiling.core.stacks import gctime
from profiling.core.stacks.gctime import GcTimer
from profiling.core.stacks.idle import CalleeReader
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.report import collapsed, flame_tree, impact_score
from profiling.core.stacks.store import StackStore
from tests.core.stackfakes import ROOT, Driver, call_offset, stack_of


def sleepy():
    time.sleep(0.5)


def getter(jobs: queue.Queue):
    return jobs.get()


def leaf():
    return 1


def middle():
    return leaf()


# -- labels ------------------------------------------------------------------------------


def test_code_labeler_names_app_code_by_module_qualname_file_and_line():
    labeler = CodeLabeler(project_root=str(ROOT))
    label = labeler.label(labeler.label_id(leaf.__code__, __name__))
    assert label.function_name == f"{__name__}.leaf"
    assert label.file_location == "tests/core/test_stacks_parts.py"
    assert label.line_number == leaf.__code__.co_firstlineno
    assert label.is_app


def test_code_labeler_stdlib_and_site_packages_are_not_app():
    import django.utils.timezone

    labeler = CodeLabeler(project_root=str(ROOT))
    stdlib = labeler.label(labeler.label_id(threading.Thread.run.__code__, "threading"))
    assert (stdlib.function_name, stdlib.file_location, stdlib.is_app) == (
        "threading.Thread.run",
        "threading.py",
        False,
    )
    library = labeler.label(labeler.label_id(django.utils.timezone.now.__code__, "django.utils.timezone"))
    assert (library.file_location, library.is_app) == ("django/utils/timezone.py", False)


def test_code_labeler_frozen_code_is_not_app_and_ids_are_cached():
    labeler = CodeLabeler(project_root=str(ROOT))
    code = compile("x = 1", "<frozen thing>", "exec")
    first = labeler.label_id(code, "thing")
    assert labeler.label_id(code, "ignored") == first
    assert not labeler.is_app(first)


def test_code_labeler_location_is_relative_to_the_longest_search_path_entry(tmp_path):
    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "mod.py").write_text("def f():\n    return 1\n")
    labeler = CodeLabeler(project_root=str(tmp_path), search_path=[str(tmp_path / "src")], library_dirs=[])
    code = compile((package / "mod.py").read_text(), str(package / "mod.py"), "exec")
    function_code = next(c for c in code.co_consts if hasattr(c, "co_name"))
    label = labeler.label(labeler.label_id(function_code, None))
    assert (label.function_name, label.file_location, label.line_number) == (
        "pkg.mod.f",
        os.path.join("pkg", "mod.py"),
        1,
    )


# -- idle callees ----------------------------------------------------------------------------


def test_callee_reader_names_the_callee_at_precall_too():
    """A specialized built-in call (CPython 3.11) runs inside PRECALL: its offset names the callee too."""
    import dis

    precall = next(ins.offset for ins in dis.get_instructions(sleepy) if ins.opname == "PRECALL")
    reader = CalleeReader()
    assert reader.callee(sleepy.__code__, precall) == "sleep"
    assert reader.is_idle_call(sleepy.__code__, precall)


def test_callee_reader_names_what_the_frame_is_calling():
    reader = CalleeReader()
    assert reader.callee(sleepy.__code__, call_offset(sleepy, "sleep")) == "sleep"
    assert reader.is_idle_call(sleepy.__code__, call_offset(sleepy, "sleep"))
    assert reader.callee(getter.__code__, call_offset(getter, "get")) == "get"
    assert not reader.is_idle_call(getter.__code__, call_offset(getter, "get"))
    assert reader.callee(sleepy.__code__, 0) is None


# -- the store -------------------------------------------------------------------------------


def test_stack_store_window_merges_only_recent_buckets():
    store = StackStore(bucket_secs=1.0, max_window_secs=10.0)
    for second in range(5):
        with store.lock:
            store.add_busy(store.bucket_at(second + 0.5), (1, 2), 0.1, 0.2)
    totals = store.window(4.5, 2.0)  # buckets 3 and 4
    assert totals.busy_samples == 2
    assert totals.stacks[(1, 2)].samples == 2
    assert totals.cpu_secs == pytest.approx(0.2) and totals.wall_secs == pytest.approx(0.4)


def test_stack_store_ring_drops_buckets_beyond_the_max_window():
    store = StackStore(bucket_secs=1.0, max_window_secs=5.0)
    for second in range(100):
        with store.lock:
            store.add_busy(store.bucket_at(float(second)), (1,), 0.0, 0.1)
    assert len(store._buckets) == 6
    assert store.window(99.5, 5.0).busy_samples == 5  # buckets 95..99


def test_stack_store_caps_distinct_stacks_per_bucket():
    store = StackStore(max_stacks_per_bucket=3, other_stack=(0,))
    with store.lock:
        bucket = store.bucket_at(0.0)
        for n in range(10):
            store.add_busy(bucket, (n + 100,), 0.0, 0.1)
    assert len(bucket.stacks) == 4
    assert bucket.stacks[(0,)].samples == 7


def test_stack_store_caps_entries_held_over_the_whole_window():
    store = StackStore(bucket_secs=1.0, max_window_secs=100.0, max_held_entries=5, other_stack=(0,))
    with store.lock:
        for n in range(20):  # one new stack a second: more than the window may hold
            store.add_busy(store.bucket_at(float(n)), (n + 100, n + 200), 0.0, 0.1)
    assert store.held_entries <= 5 + 20  # each bucket may add its one "[other stacks]" entry
    totals = store.window(19.5, 100.0)
    assert len([stack for stack in totals.stacks if stack != (0,)]) == 5
    assert totals.stacks[(0,)].samples == 15
    assert totals.busy_samples == 20


def test_stack_store_caps_frames_of_distinct_stacks_and_shares_a_held_stack():
    store = StackStore(max_held_frames=10, other_stack=(0,))
    deep = (1, 2, 3, 4)
    with store.lock:
        bucket = store.bucket_at(0.0)
        store.add_busy(bucket, deep, 0.0, 0.1)
        store.add_busy(bucket, (5, 6, 7, 8), 0.0, 0.1)
        store.add_busy(bucket, (9, 10, 11, 12), 0.0, 0.1)  # 12 frames > 10: shared entry
        later = store.bucket_at(1.0)
        store.add_busy(later, (1, 2, 3, 4), 0.0, 0.1)  # already held: no new frames
    assert store.held_frames == 4 + 4 + 1
    assert bucket.stacks[(0,)].samples == 1 and later.stacks[deep].samples == 1
    assert store.intern((1, 2, 3, 4)) is deep
    assert next(iter(later.stacks)) is deep  # both buckets share one tuple


def test_stack_store_releases_what_buckets_leaving_the_window_held():
    store = StackStore(bucket_secs=1.0, max_window_secs=5.0, max_held_entries=20, other_stack=(0,))
    with store.lock:
        for second in range(1000):  # a new distinct stack every second, for 1000 s
            store.add_busy(store.bucket_at(float(second)), (second + 10, 1, 2), 0.0, 0.1)
    assert len(store._buckets) == 6
    assert store.held_entries == 6 and store.held_frames == 6 * 3
    assert (0,) not in store.window(999.5, 5.0).stacks  # never past the cap: nothing shared
    assert store.intern((10, 1, 2)) == (10, 1, 2)  # long gone: not held any more
    assert len(store._held) == 6


# -- flame graphs and scores ----------------------------------------------------------------


def nested_driver() -> Driver:
    driver = Driver()
    driver.frames = {
        1: stack_of(threading.Thread.run, middle, leaf),
        2: stack_of(threading.Thread.run, middle),
    }
    driver.cpu.update({1: 0.0, 2: 0.0})
    driver.sample(1.0)
    driver.cpu.update({1: 0.1, 2: 0.1})
    driver.sample(1.1)
    driver.frames[2] = stack_of(threading.Thread.run, middle)
    driver.sample(1.2)
    return driver


def test_flame_collapsed_stacks_are_semicolon_lines_with_counts():
    driver = nested_driver()
    text = collapsed(driver.totals(), driver.sampler.labeler)
    assert text == (
        f"threading.Thread.run;{__name__}.middle 2\n"
        f"threading.Thread.run;{__name__}.middle;{__name__}.leaf 2\n"
    )


def test_flame_tree_sums_children_into_parents():
    driver = nested_driver()
    tree = flame_tree(driver.totals(), driver.sampler.labeler)
    assert tree == {
        "name": "all",
        "value": 4,
        "children": [
            {
                "name": "threading.Thread.run",
                "value": 4,
                "children": [
                    {
                        "name": f"{__name__}.middle",
                        "value": 4,
                        "children": [{"name": f"{__name__}.leaf", "value": 2, "children": []}],
                    }
                ],
            }
        ],
    }


def test_impact_score_is_the_mean_of_cpu_and_wall_shares_within_0_and_1():
    assert impact_score(1.0, 1.0) == 1.0
    assert impact_score(0.253, 0.301) == 0.28
    assert impact_score(0.0, 0.0) == 0.0


# -- GC time ----------------------------------------------------------------------------------


def test_gc_timer_measures_collections_and_uninstalls():
    timer = GcTimer()
    timer.install()
    try:
        assert gctime._on_gc in gc.callbacks
        timer.take()
        garbage = [[] for _ in range(50_000)]
        for item in garbage:
            item.append(item)
        del garbage
        gc.collect()
        assert timer.take() > 0
    finally:
        timer.uninstall()
    assert gctime._on_gc not in gc.callbacks


def test_stack_store_window_reuses_closed_buckets_and_reads_the_open_one_fresh():
    store = StackStore(bucket_secs=1.0, max_window_secs=10.0)

    def add(at):
        with store.lock:
            store.add_busy(store.bucket_at(at), (1,), 0.1, 0.1)

    add(0.5)
    add(1.5)
    assert store.window(1.6, 10.0).busy_samples == 2
    add(1.7)  # the open bucket changed
    assert store.window(1.8, 10.0).busy_samples == 3
    add(2.1)  # bucket 1 closed, bucket 2 open
    totals = store.window(2.2, 10.0)
    assert totals.busy_samples == 4 and totals.stacks[(1,)].samples == 4
    assert store.window(2.3, 10.0).stacks[(1,)].samples == 4  # the cached part is not mutated


def test_thread_cpu_clock_reads_live_threads_and_none_for_ended_ones():
    from profiling.core.stacks.threadcpu import ThreadCpuClock

    clock = ThreadCpuClock()
    assert clock.available  # Linux, where the project runs
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        time.sleep(0.05)
        assert clock.read(worker.ident) > 0
    finally:
        stop.set()
        worker.join()
    assert clock.read(worker.ident) is None  # ended: no read of freed memory, no crash


def test_a_servers_console_script_is_not_app_code():
    import sysconfig

    from profiling.core.memory.naming import is_application_file

    script = os.path.join(sysconfig.get_paths()["scripts"], "gunicorn")
    code = compile("x = 1", script, "exec")
    labeler = CodeLabeler(project_root=str(ROOT))
    assert not labeler.label(labeler.label_id(code, "__main__")).is_app
    assert not is_application_file(script)


def test_a_pipe_read_for_a_supervisor_is_an_idle_wait():
    from profiling.core.stacks.idle import is_idle_function

    assert is_idle_function("multiprocessing.connection.Connection._recv")
    assert not is_idle_function("multiprocessing.connection.Connection.send")

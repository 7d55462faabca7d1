"""The benchmark runner's verdict and the footprint benchmark's plumbing, on small fast inputs."""

from __future__ import annotations

import sys
import types

from bench import __main__ as runner
from bench import footprint
from bench.common import Row
from profiling.core.config import MIB


def test_exit_code_is_zero_only_when_every_bar_is_met():
    met = [("a", Row("x", "1", "< 2", True)), ("a", Row("reported only", "3"))]
    assert runner.exit_code(met, []) == 0
    assert runner.exit_code([*met, ("b", Row("y", "5", "< 2", False))], []) == 1
    assert runner.exit_code(met, ["no_such_benchmark"]) == 1


def test_if_a_benchmark_raises_then_its_row_fails_and_the_others_still_run():
    def importer(name):
        module = types.ModuleType(name)
        if name == "bench.broken":

            def run(quick=False):
                raise RuntimeError("boom")
        elif name == "bench.fine":

            def run(quick=False):
                return [Row("fine", "1", "< 2", True)]
        else:
            raise ModuleNotFoundError(name=name)
        module.run = run
        return module

    rows, missing = runner.run_benchmarks(["broken", "fine", "absent"], quick=True, importer=importer)
    assert [(bench, row.ok) for bench, row in rows] == [("broken", False), ("fine", True)]
    assert "RuntimeError: boom" in rows[0][1].value
    assert missing == ["absent"]
    assert runner.exit_code(rows, missing) == 1


def test_main_prints_the_table_and_exits_non_zero_on_a_missed_bar(monkeypatch, capsys):
    module = types.ModuleType("bench.fake_missed")
    module.run = lambda quick=False: [Row("too slow", "9 ms", "< 5 ms", False)]
    monkeypatch.setitem(sys.modules, "bench.fake_missed", module)
    assert runner.main(["fake_missed"]) == 1
    out = capsys.readouterr().out
    assert "| fake_missed | too slow | 9 ms | < 5 ms | **NO** |" in out
    assert "1 bar(s) missed" in out


def test_merge_section_replaces_the_rows_of_the_benchmarks_run_and_keeps_the_others():
    first = runner.merge_section(
        "",
        "Machine: m1",
        {"overhead": "t1, `python -m bench overhead`", "footprint": "t1, `python -m bench footprint`"},
        [
            ("footprint", Row("mem", "30 MB", "< 50 MB", True)),
            ("overhead", Row("cpu", "1.01", "< 1.02", True)),
        ],
    )
    second = runner.merge_section(
        first,
        "Machine: m2",
        {"overhead": "t2, `python -m bench overhead`"},
        [("overhead", Row("cpu", "0.99"))],
    )
    lines = second.splitlines()
    assert lines[0] == "Machine: m2"
    assert "- run of `overhead`: t2, `python -m bench overhead`" in lines
    assert "- run of `footprint`: t1, `python -m bench footprint`" in lines
    table = [line for line in lines if line.startswith("| ") and line not in runner.HEADER]
    # overhead before footprint (the order of BENCHMARKS), the old overhead row gone
    assert table == ["| overhead | cpu | 0.99 |  |  |", "| footprint | mem | 30 MB | < 50 MB | yes |"]


def test_retained_bytes_counts_data_not_code_and_stops_at_excluded_objects():
    blobs = [bytes(1000) for _ in range(100)]
    owner = {
        "blobs": blobs,
        "function": test_retained_bytes_counts_data_not_code_and_stops_at_excluded_objects,
    }
    counted = footprint.retained_bytes([owner], seen=set(), exclude=set())
    assert 100 * 1000 <= counted < 100 * 1000 + 10_000
    assert footprint.retained_bytes([owner], seen=set(), exclude={id(blobs)}) < 1000
    seen: set[int] = set()
    footprint.retained_bytes([blobs], seen=seen, exclude=set())
    assert footprint.retained_bytes([owner], seen=seen, exclude=set()) < 1000  # each object once


def _point(minutes, mb):
    return footprint.Checkpoint(minutes, int(mb * MIB), {"stack store": int(mb * MIB)}, 0, 0, 0, 0, 0, 0, 0.0)


def test_footprint_rows_fail_over_the_bar_or_when_growing_after_the_buffers_filled():
    flat = footprint.rows_for([_point(10, 20), _point(60, 30), _point(120, 30.5)], full_after=60)
    assert [row.ok for row in flat] == [True, True, True, True]
    over = footprint.rows_for([_point(10, 20), _point(60, 60)], full_after=60)
    assert [row.ok for row in over] == [True, False, None]  # flatness needs two filled points
    growing = footprint.rows_for([_point(60, 30), _point(120, 33)], full_after=60)
    assert growing[-1].ok is False and growing[-1].value == "+10.0 %"


def test_footprint_simulation_drives_the_real_workers_on_a_simulated_clock():
    service = footprint.SyntheticService(threads=2, idle_threads=1, app_functions=40, library_functions=40)
    points = footprint.simulate([1, 2], service=service)
    assert [p.minutes for p in points] == [1, 2]
    second = points[-1]
    assert second.samples_kept == 24  # one every 5 s
    assert second.leak_checks_kept == 1  # the baseline; the next check is due at 5 min
    assert 100 <= second.buckets <= 121  # one per simulated second, for 2 minutes
    assert second.parts["stack store"] > points[0].parts["stack store"] > 0
    assert second.labels > 3
    assert 0 < second.retained_bytes < 20 * MIB


def test_footprint_full_after_is_the_slowest_buffer_to_fill():
    from profiling.core.config import ProfilingConfig

    config = ProfilingConfig(memory_interval_secs=5, leak_check_interval_secs=60)
    # stack store 10 min, history 720 samples x 5 s = 60 min, leak history 96 x 60 s = 96 min,
    # the profile history's last tier 24 h: the slowest
    assert footprint.full_after_minutes(config) == 24 * 60
    # without that tier, the leak history
    assert footprint.full_after_minutes(config, profile_history=False) == 96


def test_several_benchmarks_run_each_in_a_process_of_its_own_and_a_crashed_one_fails(monkeypatch, capsys):
    for name, rows in (("fake_a", [Row("a", "1 ms", "< 5 ms", True, "detail")]), ("fake_b", None)):
        module = types.ModuleType(f"bench.{name}")
        module.run = lambda quick=False, rows=rows: rows
        monkeypatch.setitem(sys.modules, f"bench.{name}", module)
    real_find_spec = runner.importlib.util.find_spec
    monkeypatch.setattr(
        runner.importlib.util,
        "find_spec",
        lambda name: object() if name in ("bench.fake_a", "bench.fake_b") else real_find_spec(name),
    )
    children = []

    def fake_run(command, check):
        children.append(command)
        args = command[3:]
        if "fake_b" in args:  # a child that died before writing its rows
            return types.SimpleNamespace(returncode=-9)
        return types.SimpleNamespace(returncode=runner.main(args))

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    assert runner.main(["fake_a", "fake_b", "no_such_benchmark", "no_such.module"]) == 1
    assert [c[1:4] for c in children] == [["-m", "bench", "--in-process"]] * 2
    assert [c[-1] for c in children] == ["fake_a", "fake_b"]
    out = capsys.readouterr().out
    assert "| fake_a | a | 1 ms (detail) | < 5 ms | yes |" in out
    assert "| fake_b | benchmark run | failed: exit status -9" in out
    assert "no such benchmark: no_such_benchmark, no_such.module" in out

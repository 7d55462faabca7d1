"""Leak analysis over injected census histories: exact rates, severities, what is not a leak."""

import threading

import pytest

from profiling.core.config import MIB
from profiling.core.memory.census import Census, Measure
from profiling.core.memory.detector import LeakDetector
from profiling.core.memory.leaks import MIN_CHECKS, analyse, severity
from profiling.core.timefmt import iso_utc

T0 = 1_800_000_000.0
STEP = 300.0  # seconds between checks


def history(series: dict[str, list[int]], *, step: float = STEP, types=None, rss=None) -> list[Census]:
    """Censuses every `step` seconds with the given component sizes (bytes) at each check."""
    checks = max(len(sizes) for sizes in series.values())
    censuses = []
    for i in range(checks):
        components = {name: Measure(1000 + i, sizes[i]) for name, sizes in series.items() if i < len(sizes)}
        type_measures = {name: Measure(10 * sizes[i], sizes[i]) for name, sizes in (types or {}).items()}
        censuses.append(
            Census(
                timestamp=T0 + i * step,
                monotonic=1000.0 + i * step,
                components=components,
                types=type_measures,
                objects_total=12345,
                rss_bytes=None if rss is None else rss[i],
            )
        )
    return censuses


def report_for(series, **kwargs):
    return analyse(history(series, **kwargs), interval_secs=STEP, now=T0 + 10_000)


def linear(start_mb: float, mb_per_hour: float, checks: int, step: float = STEP) -> list[int]:
    return [int((start_mb + mb_per_hour * i * step / 3600) * MIB) for i in range(checks)]


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0.0, "low"),
        (0.99, "low"),
        (1.0, "medium"),
        (9.99, "medium"),
        (10.0, "high"),
        (49.9, "high"),
        (50.0, "critical"),
    ],
)
def test_severity_bounds(rate, expected):
    assert severity(rate) == expected


def test_analyse_fits_exact_growth_rate_of_steady_leak():
    report = report_for({"app.cache._entries": linear(10, 12.0, 5), "app.registry": linear(1, 0.0, 5)})
    (leak,) = report["potential_leaks"]
    assert leak["component"] == "app.cache._entries"
    assert leak["growth_rate_mb_per_hour"] == pytest.approx(12.0, abs=1e-3)
    assert leak["severity"] == "high"
    assert leak["first_seen"] == iso_utc(T0 + STEP)
    assert leak["last_seen"] == iso_utc(T0 + 4 * STEP)
    assert leak["allocation_count"] == 1004
    assert leak["average_size_bytes"] == pytest.approx(leak["total_size_bytes"] / 1004, abs=0.1)
    assert leak["pattern"] == "steady"
    assert report["highest_risk_component"] == "app.cache._entries"
    assert report["growth_rate_mb_per_hour"] == pytest.approx(12.0, abs=1e-3)
    assert report["checks_analyzed"] == 5
    assert report["history_secs"] == 4 * STEP
    assert any("app.cache._entries: steady growth" in p for p in report["suspicious_patterns"])
    assert any("Investigate app.cache._entries" in r for r in report["recommendations"])


def test_analyse_ranks_the_fastest_leak_highest_and_sums_rates():
    report = report_for({"a.slow": linear(1, 2.0, 4), "b.fast": linear(1, 60.0, 4)})
    assert [leak["component"] for leak in report["potential_leaks"]] == ["b.fast", "a.slow"]
    assert [leak["severity"] for leak in report["potential_leaks"]] == ["critical", "medium"]
    assert report["highest_risk_component"] == "b.fast"
    assert report["growth_rate_mb_per_hour"] == pytest.approx(62.0, abs=1e-3)


def test_analyse_cache_filled_once_then_flat_is_not_a_leak():
    filled = [0, 20 * MIB, 20 * MIB, 20 * MIB, 20 * MIB]
    report = report_for({"app.cache._table": filled})
    assert report["potential_leaks"] == []
    assert report["highest_risk_component"] is None
    assert report["growth_rate_mb_per_hour"] == 0.0


def test_analyse_cache_filled_between_the_first_checks_is_not_a_leak_with_three_checks():
    report = report_for({"app.cache._table": [MIB, 20 * MIB, 20 * MIB]})
    assert report["potential_leaks"] == []


def test_analyse_churn_at_a_steady_level_is_not_a_leak():
    churn = [m * MIB for m in (30, 34, 29, 35, 30, 33, 31, 34)]
    report = report_for({"app.buffers": churn})
    assert report["potential_leaks"] == []


def test_analyse_memory_given_back_is_not_a_leak():
    report = report_for({"app.batch": [MIB, 5 * MIB, 9 * MIB, 13 * MIB, 2 * MIB]})
    assert report["potential_leaks"] == []


def test_analyse_growth_that_started_late_is_fitted_from_its_start():
    sizes = [5 * MIB, 5 * MIB, 5 * MIB] + linear(5, 24.0, 4)[1:]
    (leak,) = report_for({"app.late": sizes})["potential_leaks"]
    assert leak["growth_rate_mb_per_hour"] == pytest.approx(24.0, abs=1e-3)
    assert leak["first_seen"] == iso_utc(T0 + 3 * STEP)
    assert leak["checks_fitted"] == 4


def test_analyse_accelerating_growth_is_named():
    sizes = [int((1 + 0.05 * i**3) * MIB) for i in range(6)]
    (leak,) = report_for({"app.queue": sizes})["potential_leaks"]
    assert leak["pattern"] == "accelerating"


@pytest.mark.parametrize("checks", range(MIN_CHECKS))
def test_analyse_with_too_little_history_says_so(checks):
    censuses = history({"app.cache": linear(1, 100.0, 3)})[:checks]
    report = analyse(censuses, interval_secs=STEP, now=T0)
    assert report["potential_leaks"] == []
    assert report["growth_rate_mb_per_hour"] is None
    assert report["checks_analyzed"] == checks
    assert "Too little history" in report["note"]
    assert f"{checks} check(s)" in report["note"]


def test_analyse_reports_growing_types_as_patterns_and_rss_rate():
    report = report_for(
        {"app.flat": [MIB] * 4},
        types={"builtins.dict": linear(1, 6.0, 4)},
        rss=linear(100, 3.0, 4),
    )
    assert report["potential_leaks"] == []
    assert any("builtins.dict keep growing" in p for p in report["suspicious_patterns"])
    assert report["rss_growth_rate_mb_per_hour"] == pytest.approx(3.0, abs=1e-3)
    assert any("RSS grew 3.00 MB/hour" in r for r in report["recommendations"])


class FakeCensus:
    """Returns prepared censuses in order; can block to test concurrent requests."""

    def __init__(self, censuses, gate: threading.Event | None = None):
        self.censuses = list(censuses)
        self.calls = 0
        self.gate = gate
        self.entered = threading.Event()

    def __call__(self) -> Census:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        census = self.censuses[self.calls]
        self.calls += 1
        return census


def test_detector_adds_a_check_per_detect_and_keeps_a_bounded_history():
    census = FakeCensus(history({"app.cache": linear(1, 12.0, 6)}))
    detector = LeakDetector(census, interval_secs=STEP, max_history=4, wall_clock=lambda: T0)
    assert detector.latest() is None
    detector.check()
    detector.check()
    report = detector.detect()
    assert report["checks_analyzed"] == 3
    assert report["highest_risk_component"] == "app.cache"
    assert report["trigger"] == "request"
    assert detector.latest() is report
    detector.check()
    detector.check()
    assert len(detector.history()) == 4
    assert detector.history()[0].timestamp == T0 + 1 * STEP


def test_detector_concurrent_request_waits_and_shares_the_report():
    gate = threading.Event()
    census = FakeCensus(history({"app.cache": linear(1, 12.0, 3)}), gate=gate)
    published = []
    detector = LeakDetector(census, interval_secs=STEP, wall_clock=lambda: T0, on_report=published.append)
    results = [None, None]

    def run(i):
        results[i] = detector.detect()

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert census.entered.wait(5)
    second = threading.Thread(target=run, args=(1,))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the running analysis
    gate.set()
    first.join(5)
    second.join(5)
    assert results[0] is results[1]
    assert census.calls == 1
    assert len(published) == 1


def test_detector_latest_report_is_the_newest_whichever_made_it():
    census = FakeCensus(history({"app.cache": linear(1, 12.0, 5)}))
    published = []
    detector = LeakDetector(census, interval_secs=STEP, wall_clock=lambda: T0, on_report=published.append)
    detector.check(analyse=False)  # the worker's baseline at start: no report
    assert detector.latest() is None and published == []
    requested = detector.detect()
    assert detector.latest() is requested and requested["checks_analyzed"] == 2
    detector.check()  # a background check after the request: its report is the newest
    detector.check()
    newest = detector.latest()
    assert (newest["trigger"], newest["checks_analyzed"]) == ("background", 4)
    assert newest["highest_risk_component"] == "app.cache"
    assert [r["checks_analyzed"] for r in published] == [2, 3, 4]


def test_report_counts_what_the_census_could_not_see():
    censuses = history({"app.cache": [MIB] * 3})
    last = censuses[-1]
    censuses[-1] = Census(
        timestamp=last.timestamp,
        monotonic=last.monotonic,
        components=last.components,
        objects_walked=20_000,
        walk_truncated=True,
        components_skipped=2,
    )
    report = analyse(censuses, interval_secs=STEP, now=T0)
    assert (report["objects_walked"], report["walk_truncated"], report["components_skipped"]) == (
        20_000,
        True,
        2,
    )
    assert any("stopped at its budget (20000 objects" in r for r in report["recommendations"])
    assert any("2 container(s) could not be measured" in r for r in report["recommendations"])

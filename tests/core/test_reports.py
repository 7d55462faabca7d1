import pytest

from profiling.core.config import ProfilingConfig
from profiling.core.reports import cpu_report, memory_report, threshold_status
from profiling.core.samples import CpuFigures, MemoryReading, Sample
from profiling.core.timefmt import iso_utc
from tests.core.fakes import MIB

CONFIG = ProfilingConfig(memory_warning_mb=650, memory_alert_mb=700)


def reading(rss_mb: float, anon_mb: float | None = 50.0) -> MemoryReading:
    return MemoryReading(
        rss=int(rss_mb * MIB),
        vms=int(1000 * MIB),
        shared=int(12.5 * MIB),
        anon=None if anon_mb is None else int(anon_mb * MIB),
    )


def cpu(**overrides) -> CpuFigures:
    values = dict(
        interval_secs=5.0,
        usage_percent=40.0,
        user_percent=30.0,
        system_percent=10.0,
        idle_percent=60.0,
        load_average=(1.234, 0.5, 0.25),
        process_cpu_percent=120.5,
        process_user_seconds=3.5,
        process_system_seconds=0.5,
        process_num_threads=7,
    )
    return CpuFigures(**(values | overrides))


def sample_at(t: float, rss_mb: float) -> Sample:
    return Sample(timestamp=1_800_000_000.0 + t, monotonic=t, memory=reading(rss_mb), cpu=cpu())


def test_iso_utc_has_milliseconds_and_z():
    assert iso_utc(1_800_000_000.1239) == "2027-01-15T08:00:00.123Z"


@pytest.mark.parametrize(
    ("rss_mb", "status"),
    [(649.9, "normal"), (650.0, "warning"), (700.0, "warning"), (700.1, "critical")],
)
def test_threshold_status_boundaries(rss_mb, status):
    assert threshold_status(rss_mb, CONFIG) == status


def test_memory_report_fields_are_the_reading_in_mib():
    report = memory_report(reading(245.5, 189.75), 1_800_000_000.0, 100.0, [], CONFIG)
    assert report["rss_mb"] == 245.5
    assert report["resident_mb"] == 245.5
    assert report["heap_mb"] == 189.75
    assert report["virtual_mb"] == 1000.0
    assert report["shared_mb"] == 12.5
    assert report["threshold_status"] == "normal"
    assert report["warnings"] == []
    assert report["growth_rate_mb_per_sec"] is None  # one point only
    assert report["note"] is None


def test_memory_report_growth_is_the_least_squares_slope_over_the_window():
    # Samples over 70 s; the one at t=0 is outside the 60 s window and would skew it.
    history = [sample_at(0, 500.0)] + [sample_at(t, 100.0 + 0.5 * t) for t in range(10, 70, 10)]
    report = memory_report(reading(100.0 + 0.5 * 70), 1_800_000_070.0, 70.0, history, CONFIG)
    assert report["growth_rate_mb_per_sec"] == pytest.approx(0.5)
    assert report["growth_window_secs"] == 60.0


def test_memory_report_warns_at_each_threshold():
    warning = memory_report(reading(660), 0.0, 0.0, [], CONFIG)
    assert warning["threshold_status"] == "warning"
    assert warning["warnings"] == ["RSS 660.0 MB is above the warning threshold of 650 MB."]
    critical = memory_report(reading(720), 0.0, 0.0, [], CONFIG)
    assert critical["threshold_status"] == "critical"
    assert critical["warnings"] == ["RSS 720.0 MB is above the critical threshold of 700 MB."]


def test_memory_report_warns_of_fast_growth_with_time_to_alert():
    history = [sample_at(t, 400.0 + 2.0 * t) for t in range(0, 30, 5)]
    report = memory_report(reading(460.0), 1_800_000_030.0, 30.0, history, CONFIG)
    assert report["growth_rate_mb_per_sec"] == pytest.approx(2.0)
    assert report["warnings"] == [
        "RSS is growing fast: 2.00 MB/s over the last 30 s. At this rate it crosses the critical "
        "threshold in 2.0 min."
    ]


def test_memory_report_heap_unavailable_is_null_with_a_note():
    report = memory_report(reading(100, anon_mb=None), 0.0, 0.0, [], CONFIG)
    assert report["heap_mb"] is None
    assert "RssAnon" in report["note"]


def test_cpu_report_fields_and_note():
    report = cpu_report(
        Sample(timestamp=1_800_000_000.0, monotonic=0.0, memory=reading(1), cpu=cpu()), CONFIG
    )
    assert report["cpu_usage_percent"] == 40.0
    assert report["user_time_percent"] + report["system_time_percent"] + report["idle_time_percent"] == 100.0
    assert report["load_average"] == {"one_min": 1.23, "five_min": 0.5, "fifteen_min": 0.25}
    assert report["process"] == {
        "cpu_percent": 120.5,
        "user_seconds": 3.5,
        "system_seconds": 0.5,
        "num_threads": 7,
    }
    assert report["available"] is True
    assert "PROFILING_FULL" in report["note"]
    full = cpu_report(
        Sample(timestamp=0.0, monotonic=0.0, memory=reading(1), cpu=cpu(load_average=None)),
        ProfilingConfig(full=True),
    )
    assert full["note"] is None
    assert full["load_average"] is None


def test_cpu_report_available_says_whether_the_interval_was_measured():
    unmeasured = Sample(timestamp=0.0, monotonic=0.0, memory=reading(1), cpu=cpu(measured=False))
    assert cpu_report(unmeasured, CONFIG)["available"] is False


def test_cpu_report_note_does_not_promise_that_full_changes_these_figures():
    note = cpu_report(Sample(timestamp=0.0, monotonic=0.0, memory=reading(1), cpu=cpu()), CONFIG)["note"]
    assert "does not change these figures" in note

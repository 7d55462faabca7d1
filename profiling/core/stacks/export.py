"""A window of busy stacks as files other profilers open: pprof and speedscope.

Both exports hold exactly what the flame graph holds: every busy stack of the window,
outermost frame first in the store, with the route label that per-route attribution puts at
its root taken off (as `collapsed()` and `flame_tree()` do). Each stack carries three
figures, and both files carry all three, as integers, so they agree to the unit:

- samples: busy samples (one per sampler tick that found the thread busy), a count;
- cpu: the thread's on-CPU time over those samples, in nanoseconds;
- wall: the busy thread time they stand for, on or off the CPU, in nanoseconds.

pprof (`to_pprof`): a gzip-compressed `perftools.profiles.Profile` with the sample types
samples/count, cpu/nanoseconds, wall/nanoseconds, in that order (by pprof's convention the
count comes first; wall is the default, as in the dashboard's flame graph). One Function per
function (name and file as the API shows them, start_line its definition line) and one
Location per function: the sampler records which function a frame is in, not the line it
was at, so a Location's line is the function's definition line too. Samples of a route's
requests carry a string label `endpoint` (as GET /api/profiling/endpoints names it), which
pprof's -tagfocus and Pyroscope's label filters read.

speedscope (`to_speedscope`): one file, three sampled profiles over the same frames,
weighted by busy wall time (shown first), on-CPU time (both in nanoseconds) and busy
samples (unit none). Identical stacks of different routes are one sample there.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator

from profiling.core.stacks.labels import CodeLabeler, FrameLabel
from profiling.core.stacks.report import _frames
from profiling.core.stacks.store import Stack, Totals

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
EXPORTER = "riptide-profiler"
ENDPOINT_LABEL = "endpoint"
# (type, unit) of each value of a pprof sample, in order; DEFAULT_SAMPLE_TYPE is shown first.
PPROF_SAMPLE_TYPES = (("samples", "count"), ("cpu", "nanoseconds"), ("wall", "nanoseconds"))
DEFAULT_SAMPLE_TYPE = "wall"
PPROF_COMMENTS = (
    "riptide-profiler: busy thread samples (idle waits left out)",
    "line numbers are the functions' definition lines: the sampler records functions, not lines",
)
NANOS = 1_000_000_000


def _ns(secs: float) -> int:
    return round(secs * NANOS)


def _rows(
    totals: Totals, is_route: Callable[[int], bool] | None
) -> Iterator[tuple[Stack, int | None, tuple[int, int, int]]]:
    """(frames outermost first, the route label or None, (samples, cpu ns, wall ns)) per stack."""
    for stack, stats in totals.stacks.items():
        frames = _frames(stack, is_route)
        route = stack[0] if len(frames) < len(stack) else None
        yield frames, route, (stats.samples, _ns(stats.cpu_secs), _ns(stats.wall_secs))


def _merged(
    totals: Totals, is_route: Callable[[int], bool] | None, *, by_route: bool
) -> dict[tuple[Stack, int | None], list[int]]:
    """The figures summed per stack (and per route when `by_route`), nanoseconds rounded per entry."""
    merged: dict[tuple[Stack, int | None], list[int]] = {}
    for frames, route, values in _rows(totals, is_route):
        key = (frames, route if by_route else None)
        entry = merged.get(key)
        if entry is None:
            merged[key] = list(values)
        else:
            for index, value in enumerate(values):
                entry[index] += value
    return merged


class _Strings:
    """pprof's string table: "" first, each string once."""

    def __init__(self) -> None:
        self.table: list[str] = [""]
        self._index: dict[str, int] = {"": 0}

    def __call__(self, text: str) -> int:
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.table)
            self.table.append(text)
        return found


def to_pprof(
    totals: Totals,
    labeler: CodeLabeler,
    *,
    is_route: Callable[[int], bool] | None = None,
    duration_secs: float,
    period_secs: float,
    time_nanos: int,
) -> bytes:
    """The busy stacks as a gzip-compressed pprof Profile (the bytes of a `profile.pb.gz`).

    `period_secs` is the sampling interval (1 / sample rate), `duration_secs` the window's
    span and `time_nanos` its start, in nanoseconds since the epoch.
    """
    from profiling.core.stacks.profile_pb2 import Profile  # protobuf only when a profile is asked for

    strings = _Strings()
    profile = Profile()
    for kind, unit in PPROF_SAMPLE_TYPES:
        profile.sample_type.add(type=strings(kind), unit=strings(unit))
    location_of: dict[int, int] = {}  # label id -> its Function's and its Location's id

    def location(label_id: int) -> int:
        found = location_of.get(label_id)
        if found is None:
            label: FrameLabel = labeler.label(label_id)
            found = location_of[label_id] = len(location_of) + 1
            name = strings(label.function_name)
            profile.function.add(
                id=found,
                name=name,
                system_name=name,
                filename=strings(label.file_location),
                start_line=label.line_number,
            )
            place = profile.location.add(id=found)
            place.line.add(function_id=found, line=label.line_number)
        return found

    for (frames, route), values in _merged(totals, is_route, by_route=True).items():
        sample = profile.sample.add()
        sample.location_id.extend(location(label_id) for label_id in reversed(frames))  # leaf first
        sample.value.extend(values)
        if route is not None:
            endpoint = labeler.label(route).function_name
            sample.label.add(key=strings(ENDPOINT_LABEL), str=strings(endpoint))
    profile.time_nanos = time_nanos
    profile.duration_nanos = _ns(duration_secs)
    profile.period_type.type = strings("wall")
    profile.period_type.unit = strings("nanoseconds")
    profile.period = _ns(period_secs)
    profile.comment.extend(strings(text) for text in PPROF_COMMENTS)
    profile.default_sample_type = strings(DEFAULT_SAMPLE_TYPE)
    profile.string_table.extend(strings.table)
    return gzip.compress(profile.SerializeToString(), compresslevel=6, mtime=0)


def _speedscope_frame(label: FrameLabel) -> dict:
    frame: dict = {"name": label.function_name}
    if label.file_location:
        frame["file"] = label.file_location
    if label.line_number > 0:
        frame["line"] = label.line_number
    return frame


def to_speedscope(
    totals: Totals, labeler: CodeLabeler, *, is_route: Callable[[int], bool] | None = None, name: str
) -> dict:
    """The busy stacks as a speedscope file (https://www.speedscope.app/file-format-schema.json).

    Three sampled profiles of the same stacks: weighted by busy wall time, by on-CPU time
    (nanoseconds) and by busy samples (unit none); a profile leaves out its zero weights.
    Samples are in the order of their frames' names, outermost first.
    """
    frames: list[dict] = []
    index_of: dict[int, int] = {}

    def frame(label_id: int) -> int:
        found = index_of.get(label_id)
        if found is None:
            found = index_of[label_id] = len(frames)
            frames.append(_speedscope_frame(labeler.label(label_id)))
        return found

    rows = []
    for (stack, _), values in _merged(totals, is_route, by_route=False).items():
        indexes = [frame(label_id) for label_id in stack]
        rows.append((tuple(frames[i]["name"] for i in indexes), indexes, values))
    rows.sort(key=lambda row: row[0])
    profiles = []
    for title, unit, column in (
        ("busy wall time", "nanoseconds", 2),
        ("on-CPU time", "nanoseconds", 1),
        ("busy samples", "none", 0),
    ):
        kept = [(indexes, values[column]) for _, indexes, values in rows if values[column] > 0]
        weights = [weight for _, weight in kept]
        profiles.append(
            {
                "type": "sampled",
                "name": f"{name}: {title}",
                "unit": unit,
                "startValue": 0,
                "endValue": sum(weights),
                "samples": [indexes for indexes, _ in kept],
                "weights": weights,
            }
        )
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": name,
        "exporter": EXPORTER,
        "activeProfileIndex": 0,
        "shared": {"frames": frames},
        "profiles": profiles,
    }

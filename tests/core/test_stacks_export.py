"""The flame graph's exports, read back by real readers with exact values.

pprof: decoded twice, by classes protoc generates here from the vendored profile.proto
(protobuf's own parser, none of the exporter's code) and by the npm package pprof-format (a
JavaScript decoder of its own). speedscope: validated against the JSON schema the npm
package speedscope ships, and checked as speedscope's importer checks a sampled profile.
The readers live in tests/js (package.json, package-lock.json): `npm ci` installs them
there when they are missing or older than the lock.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from profiling.core.endpoints.routes import ROUTE_FILE
from profiling.core.stacks import profile_pb2
from profiling.core.stacks.export import to_pprof, to_speedscope
from profiling.core.stacks.labels import CodeLabeler, FrameLabel
from profiling.core.stacks.report import collapsed
from profiling.core.stacks.store import StackStats, Totals
from tests.core.stackfakes import ROOT

JS_DIR = ROOT / "tests" / "js"
PROTO = ROOT / "profiling" / "core" / "stacks" / "profile.proto"
SPEEDSCOPE_SCHEMA = JS_DIR / "node_modules" / "speedscope" / "dist" / "release" / "file-format-schema.json"
NODE_MISSING = (
    "Node.js and npm are needed to read the exports with pprof-format and speedscope's schema "
    "(tests/js): install them (Debian: apt-get install nodejs npm; Node 18 or newer)."
)
GRPC_TOOLS_MISSING = "grpcio-tools (protoc) is a dev dependency: run `make install-dev`."
T0_NANOS = 1_700_000_000_123_456_789


# -- readers -------------------------------------------------------------------------------


def js_readers() -> Path:
    """tests/js with its node_modules installed from the lock (`npm ci` when the lock changed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(NODE_MISSING, pytrace=False)
    lock = (JS_DIR / "package-lock.json").read_bytes()
    stamp = JS_DIR / "node_modules" / ".riptide-lock-sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci in tests/js failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
        stamp.write_text(digest)
    return JS_DIR


def read_pprof_with_pprof_format(data: bytes, tmp_path: Path) -> dict:
    """The profile as tests/js/read_pprof.cjs prints it (pprof-format's decoder)."""
    js_readers()
    path = tmp_path / "profile.pb.gz"
    path.write_bytes(data)
    result = subprocess.run(
        [shutil.which("node"), str(JS_DIR / "read_pprof.cjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


_published = None


def published_profile_pb2():
    """protoc's own Python classes for the vendored profile.proto, generated in a temporary directory."""
    global _published
    if _published is None:
        try:
            from grpc_tools import protoc  # noqa: F401
        except ImportError:
            pytest.fail(GRPC_TOOLS_MISSING, pytrace=False)
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="published-pprof-"))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO.parent}",
                f"--python_out={out}",
                PROTO.name,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        spec = importlib.util.spec_from_file_location("published_profile_pb2", out / "profile_pb2.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _published = module
    return _published


def read_pprof_with_protobuf(data: bytes) -> dict:
    """The profile decoded by protoc's classes, in the shape read_pprof.cjs prints."""
    profile = published_profile_pb2().Profile.FromString(gzip.decompress(data))
    strings = list(profile.string_table)

    def value_type(vt):
        return {"type": strings[vt.type], "unit": strings[vt.unit]}

    return {
        "string_table": strings,
        "sample_type": [value_type(vt) for vt in profile.sample_type],
        "sample": [
            {
                "location_id": [str(i) for i in s.location_id],
                "value": [str(v) for v in s.value],
                "label": [
                    {
                        "key": strings[lb.key],
                        "str": strings[lb.str],
                        "num": str(lb.num),
                        "num_unit": strings[lb.num_unit],
                    }
                    for lb in s.label
                ],
            }
            for s in profile.sample
        ],
        "mapping": [{"id": str(m.id)} for m in profile.mapping],
        "location": [
            {
                "id": str(loc.id),
                "mapping_id": str(loc.mapping_id),
                "address": str(loc.address),
                "is_folded": loc.is_folded,
                "line": [
                    {"function_id": str(ln.function_id), "line": str(ln.line), "column": str(ln.column)}
                    for ln in loc.line
                ],
            }
            for loc in profile.location
        ],
        "function": [
            {
                "id": str(f.id),
                "name": strings[f.name],
                "system_name": strings[f.system_name],
                "filename": strings[f.filename],
                "start_line": str(f.start_line),
            }
            for f in profile.function
        ],
        "drop_frames": strings[profile.drop_frames],
        "keep_frames": strings[profile.keep_frames],
        "time_nanos": str(profile.time_nanos),
        "duration_nanos": str(profile.duration_nanos),
        "period_type": value_type(profile.period_type) if profile.HasField("period_type") else None,
        "period": str(profile.period),
        "comment": [strings[c] for c in profile.comment],
        "default_sample_type": strings[profile.default_sample_type],
        "doc_url": strings[profile.doc_url],
    }


def read_pprof(data: bytes, tmp_path: Path) -> dict:
    """Both readers' decoding, which must be the same to the last field."""
    by_protobuf = read_pprof_with_protobuf(data)
    by_pprof_format = read_pprof_with_pprof_format(data, tmp_path)
    assert by_pprof_format == by_protobuf
    return by_protobuf


def check_pprof_structure(profile: dict) -> None:
    """What profile.proto asks of a well-formed profile."""
    strings = profile["string_table"]
    assert strings[0] == "" and len(set(strings)) == len(strings)
    functions = {f["id"]: f for f in profile["function"]}
    assert len(functions) == len(profile["function"]) and "0" not in functions
    locations = {loc["id"]: loc for loc in profile["location"]}
    assert len(locations) == len(profile["location"]) and "0" not in locations
    for loc in profile["location"]:
        # One Location per function, at its definition line; no mapping, no address.
        assert (loc["mapping_id"], loc["address"], loc["is_folded"]) == ("0", "0", False)
        (line,) = loc["line"]
        assert line["line"] == functions[line["function_id"]]["start_line"] and line["column"] == "0"
    for sample in profile["sample"]:
        assert len(sample["value"]) == len(profile["sample_type"])
        assert all(i in locations for i in sample["location_id"])


def pprof_stacks(profile: dict) -> list[tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[str, str], ...]]]:
    """(function names outermost first, values, labels) per sample, in the profile's order."""
    names = {f["id"]: f["name"] for f in profile["function"]}
    function_of = {loc["id"]: loc["line"][0]["function_id"] for loc in profile["location"]}
    return [
        (
            tuple(names[function_of[i]] for i in reversed(s["location_id"])),
            tuple(int(v) for v in s["value"]),
            tuple((lb["key"], lb["str"]) for lb in s["label"]),
        )
        for s in profile["sample"]
    ]


def check_speedscope(document: dict) -> None:
    """Valid by speedscope's published schema, and as its importer reads a sampled profile."""
    import jsonschema

    js_readers()
    schema = json.loads(SPEEDSCOPE_SCHEMA.read_text())
    jsonschema.validate(document, schema, cls=jsonschema.Draft7Validator)
    frames = document["shared"]["frames"]
    for profile in document["profiles"]:
        assert profile["type"] == "sampled"
        assert len(profile["samples"]) == len(profile["weights"])
        assert profile["endValue"] >= profile["startValue"]
        assert all(0 <= i < len(frames) for stack in profile["samples"] for i in stack)


def speedscope_stacks(document: dict, profile_index: int) -> dict[tuple[str, ...], int]:
    frames = document["shared"]["frames"]
    profile = document["profiles"][profile_index]
    return {
        tuple(frames[i]["name"] for i in stack): weight
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True)
    }


# -- a hand-built window ---------------------------------------------------------------------


def handler():
    return work()


def work():
    return helper()


def helper():
    return 1


class Window:
    """Totals of known stacks over real labels: app functions, a stdlib one, two routes."""

    def __init__(self) -> None:
        self.labeler = CodeLabeler(project_root=str(ROOT))
        label = self.labeler.label_id
        self.handler = label(handler.__code__, __name__)
        self.work = label(work.__code__, __name__)
        self.helper = label(helper.__code__, __name__)
        self.dumps = label(json.dumps.__code__, "json")
        self.items = self.labeler.intern(FrameLabel("GET /items/<int:pk>", ROUTE_FILE, 0, False))
        self.background = self.labeler.intern(FrameLabel("background", ROUTE_FILE, 0, False))
        self.routes = {self.items, self.background}
        self.totals = Totals(span_secs=30.0)
        stacks = self.totals.stacks
        stacks[(self.items, self.handler, self.work, self.helper)] = StackStats(5, 0.0400000004, 0.05)
        stacks[(self.items, self.handler, self.dumps)] = StackStats(2, 0.0, 0.0199999996)
        stacks[(self.background, self.handler, self.work, self.helper)] = StackStats(3, 0.03, 0.031)
        stacks[(self.labeler.other_stacks_id,)] = StackStats(1, 0.001, 0.002)


M = __name__
HANDLER, WORK, HELPER = f"{M}.handler", f"{M}.work", f"{M}.helper"
FILE = "tests/core/test_stacks_export.py"


def line(function) -> int:
    return function.__code__.co_firstlineno


def export_pprof(window: Window, **kwargs) -> bytes:
    return to_pprof(
        window.totals,
        window.labeler,
        is_route=window.routes.__contains__,
        duration_secs=30.0,
        period_secs=1 / 47,
        time_nanos=T0_NANOS,
        **kwargs,
    )


# -- pprof -----------------------------------------------------------------------------------


def test_pprof_holds_every_busy_stack_with_its_counts_and_times_in_nanoseconds(tmp_path):
    window = Window()
    data = export_pprof(window)

    assert data[:2] == b"\x1f\x8b"  # gzip, as pprof files are on disk
    profile = read_pprof(data, tmp_path)
    check_pprof_structure(profile)
    assert profile["sample_type"] == [
        {"type": "samples", "unit": "count"},
        {"type": "cpu", "unit": "nanoseconds"},
        {"type": "wall", "unit": "nanoseconds"},
    ]
    assert profile["default_sample_type"] == "wall"
    assert profile["period_type"] == {"type": "wall", "unit": "nanoseconds"}
    assert profile["period"] == str(round(1e9 / 47))
    assert profile["duration_nanos"] == "30000000000"
    assert profile["time_nanos"] == str(T0_NANOS)
    assert (profile["drop_frames"], profile["keep_frames"], profile["doc_url"], profile["mapping"]) == (
        "",
        "",
        "",
        [],
    )
    assert profile["comment"] == [
        "riptide-profiler: busy thread samples (idle waits left out)",
        "line numbers are the functions' definition lines: the sampler records functions, not lines",
    ]
    # The route label is off every stack, and on its sample as the `endpoint` label.
    assert pprof_stacks(profile) == [
        ((HANDLER, WORK, HELPER), (5, 40_000_000, 50_000_000), (("endpoint", "GET /items/<int:pk>"),)),
        ((HANDLER, "json.dumps"), (2, 0, 20_000_000), (("endpoint", "GET /items/<int:pk>"),)),
        ((HANDLER, WORK, HELPER), (3, 30_000_000, 31_000_000), (("endpoint", "background"),)),
        (("[other stacks]",), (1, 1_000_000, 2_000_000), ()),
    ]
    functions = {f["name"]: f for f in profile["function"]}
    assert sorted(functions) == sorted([HANDLER, WORK, HELPER, "json.dumps", "[other stacks]"])
    for name, function in ((HANDLER, handler), (WORK, work), (HELPER, helper)):
        assert functions[name] | {"id": None} == {
            "id": None,
            "name": name,
            "system_name": name,
            "filename": FILE,
            "start_line": str(line(function)),
        }
    assert functions["json.dumps"]["filename"] == "json/__init__.py"
    assert functions["json.dumps"]["start_line"] == str(line(json.dumps))
    assert functions["[other stacks]"] | {"id": None} == {
        "id": None,
        "name": "[other stacks]",
        "system_name": "[other stacks]",
        "filename": "",
        "start_line": "0",
    }


def test_pprof_without_route_attribution_keeps_every_frame_and_labels_nothing(tmp_path):
    window = Window()
    data = to_pprof(window.totals, window.labeler, duration_secs=1.5, period_secs=0.01, time_nanos=0)

    profile = read_pprof(data, tmp_path)
    check_pprof_structure(profile)
    assert pprof_stacks(profile) == [
        (("GET /items/<int:pk>", HANDLER, WORK, HELPER), (5, 40_000_000, 50_000_000), ()),
        (("GET /items/<int:pk>", HANDLER, "json.dumps"), (2, 0, 20_000_000), ()),
        (("background", HANDLER, WORK, HELPER), (3, 30_000_000, 31_000_000), ()),
        (("[other stacks]",), (1, 1_000_000, 2_000_000), ()),
    ]
    assert "endpoint" not in profile["string_table"]
    assert (profile["duration_nanos"], profile["period"], profile["time_nanos"]) == (
        "1500000000",
        "10000000",
        "0",
    )


def test_pprof_of_an_empty_window_is_a_valid_profile_without_samples(tmp_path):
    labeler = CodeLabeler(project_root=str(ROOT))
    data = to_pprof(Totals(), labeler, duration_secs=0.0, period_secs=0.005, time_nanos=T0_NANOS)

    profile = read_pprof(data, tmp_path)
    check_pprof_structure(profile)
    assert (profile["sample"], profile["location"], profile["function"]) == ([], [], [])
    assert len(profile["sample_type"]) == 3 and profile["default_sample_type"] == "wall"


def test_pprof_counts_are_those_of_the_collapsed_stacks():
    window = Window()
    profile = read_pprof_with_protobuf(export_pprof(window))

    counts: Counter = Counter()
    for names, values, _ in pprof_stacks(profile):
        counts[";".join(name.replace(";", ":").replace(" ", "_") for name in names)] += values[0]
    text = collapsed(window.totals, window.labeler, window.routes.__contains__)
    assert dict(counts) == {key: int(n) for key, n in (ln.rsplit(" ", 1) for ln in text.splitlines())}


def test_profile_pb2_is_the_vendored_profile_proto_as_protoc_compiles_it(tmp_path):
    from google.protobuf import descriptor_pb2

    published_profile_pb2()  # grpcio-tools is there
    out = tmp_path / "profile.binpb"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO.parent}",
            f"--descriptor_set_out={out}",
            PROTO.name,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    compiled = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    ours = descriptor_pb2.FileDescriptorProto.FromString(profile_pb2.SERIALIZED)
    assert ours == compiled, f"regenerate SERIALIZED in profile_pb2.py: {compiled.SerializeToString()!r}"
    assert profile_pb2.Profile.DESCRIPTOR.full_name == "perftools.profiles.Profile"
    # pprof's published format, with its license header, vendored unchanged.
    text = PROTO.read_text()
    assert text.startswith("// Copyright 2016 Google Inc. All Rights Reserved.")
    assert "Licensed under the Apache License, Version 2.0" in text
    assert "package perftools.profiles;" in text


def test_profile_pb2_shares_nothing_with_the_default_pool():
    from google.protobuf import descriptor_pool

    published_profile_pb2()  # protoc's module is in the default pool, under the same names
    assert profile_pb2.POOL is not descriptor_pool.Default()
    assert profile_pb2.Profile is not published_profile_pb2().Profile
    # Each decodes what the other encodes.
    ours = profile_pb2.Profile(period=7, string_table=["", "x"])
    theirs = published_profile_pb2().Profile.FromString(ours.SerializeToString())
    assert (theirs.period, list(theirs.string_table)) == (7, ["", "x"])


# -- speedscope ------------------------------------------------------------------------------


def test_speedscope_file_has_shared_frames_and_three_sampled_profiles():
    window = Window()
    document = to_speedscope(window.totals, window.labeler, is_route=window.routes.__contains__, name="w")

    check_speedscope(document)
    frames = [
        {"name": HANDLER, "file": FILE, "line": line(handler)},
        {"name": WORK, "file": FILE, "line": line(work)},
        {"name": HELPER, "file": FILE, "line": line(helper)},
        {"name": "json.dumps", "file": "json/__init__.py", "line": line(json.dumps)},
        {"name": "[other stacks]"},
    ]
    # Both routes' handler;work;helper are one sample; samples in the order of their names.
    stacks = [[4], [0, 3], [0, 1, 2]]
    assert document == {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "name": "w",
        "exporter": "riptide-profiler",
        "activeProfileIndex": 0,
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": "w: busy wall time",
                "unit": "nanoseconds",
                "startValue": 0,
                "endValue": 103_000_000,
                "samples": stacks,
                "weights": [2_000_000, 20_000_000, 81_000_000],
            },
            {
                "type": "sampled",
                "name": "w: on-CPU time",
                "unit": "nanoseconds",
                "startValue": 0,
                "endValue": 71_000_000,
                "samples": [[4], [0, 1, 2]],  # json.dumps was off the CPU: no zero weight
                "weights": [1_000_000, 70_000_000],
            },
            {
                "type": "sampled",
                "name": "w: busy samples",
                "unit": "none",
                "startValue": 0,
                "endValue": 11,
                "samples": stacks,
                "weights": [1, 2, 8],
            },
        ],
    }


def test_speedscope_of_an_empty_window_is_valid():
    document = to_speedscope(Totals(), CodeLabeler(project_root=str(ROOT)), name="empty")

    check_speedscope(document)
    assert document["shared"]["frames"] == []
    assert [(p["samples"], p["weights"], p["endValue"]) for p in document["profiles"]] == [([], [], 0)] * 3


def test_schema_check_refuses_a_file_speedscope_would_refuse():
    import jsonschema

    window = Window()
    document = to_speedscope(window.totals, window.labeler, is_route=window.routes.__contains__, name="w")
    broken = json.loads(json.dumps(document))
    broken["profiles"][0]["unit"] = "furlongs"
    with pytest.raises(jsonschema.ValidationError):
        check_speedscope(broken)
    uneven = json.loads(json.dumps(document))
    uneven["profiles"][0]["weights"].pop()  # the schema allows it, speedscope's importer does not
    with pytest.raises(AssertionError):
        check_speedscope(uneven)


# -- both ------------------------------------------------------------------------------------


def check_exports_agree(profile: dict, document: dict) -> None:
    """Per stack and per function, pprof's samples, cpu and wall are speedscope's weights."""
    by_stack: dict[tuple[str, ...], list[int]] = {}
    for names, values, _ in pprof_stacks(profile):
        entry = by_stack.setdefault(names, [0, 0, 0])
        for index, value in enumerate(values):
            entry[index] += value
    for profile_index, column in ((0, 2), (1, 1), (2, 0)):
        expected = {names: values[column] for names, values in by_stack.items() if values[column]}
        assert speedscope_stacks(document, profile_index) == expected, document["profiles"][profile_index][
            "name"
        ]
    pprof_functions = {(f["name"], f["filename"], f["start_line"]) for f in profile["function"]}
    speedscope_functions = {
        (f["name"], f.get("file", ""), str(f.get("line", 0))) for f in document["shared"]["frames"]
    }
    assert pprof_functions == speedscope_functions


def test_pprof_and_speedscope_hold_the_same_functions_counts_and_times(tmp_path):
    window = Window()
    profile = read_pprof(export_pprof(window), tmp_path)
    document = to_speedscope(window.totals, window.labeler, is_route=window.routes.__contains__, name="w")

    check_exports_agree(profile, document)
    self_samples: Counter = Counter()
    for names, values, _ in pprof_stacks(profile):
        self_samples[names[-1]] += values[0]
    assert dict(self_samples) == {HELPER: 8, "json.dumps": 2, "[other stacks]": 1}

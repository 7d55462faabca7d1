"""The snapshot store: atomic files, unique ids, retention, lookups by id only, disk full."""

import errno
import json
import os
import threading

import pytest

from profiling.core.errors import NotFoundError, ProfilingError, StorageFullError
from profiling.core.memory.compare import compare_snapshots
from profiling.core.memory.snapshots import FORMAT, SnapshotStore


def payload(snapshot_id, timestamp, **extra):
    return {"format": FORMAT, "snapshot_id": snapshot_id, "unix_time": timestamp, **extra}


def test_store_writes_json_with_real_size_and_nothing_else(tmp_path):
    store = SnapshotStore(tmp_path / "snaps", 5, wall_clock=lambda: 1_800_000_000.5)
    written, timestamp = store.write(lambda sid, ts: payload(sid, ts, data="x" * 1000))
    assert written.snapshot_id == "snapshot_1800000000"
    assert timestamp == 1_800_000_000.5
    assert written.size_bytes == os.path.getsize(written.path)
    assert os.listdir(tmp_path / "snaps") == ["snapshot_1800000000.json"]
    assert json.loads(written.path.read_bytes())["data"] == "x" * 1000


def test_store_ids_in_one_second_get_suffixes_and_retention_drops_the_oldest(tmp_path):
    store = SnapshotStore(tmp_path, 3, wall_clock=lambda: 1_800_000_000.0)
    ids = [store.write(payload)[0].snapshot_id for _ in range(5)]
    assert ids == [
        "snapshot_1800000000",
        "snapshot_1800000000_2",
        "snapshot_1800000000_3",
        "snapshot_1800000000_4",
        "snapshot_1800000000_5",
    ]
    assert [s.snapshot_id for s in store.list()] == ids[2:]
    assert sorted(os.listdir(tmp_path)) == sorted(f"{i}.json" for i in ids[2:])
    with pytest.raises(NotFoundError):
        store.get(ids[0])


def test_store_total_size_budget_deletes_the_oldest_but_never_the_new_one(tmp_path):
    size = len(
        json.dumps(payload("snapshot_1800000000_2", 1_800_000_000.0, data="x" * 1000), separators=(",", ":"))
    )
    store = SnapshotStore(tmp_path, 10, max_total_bytes=3 * size + 10, wall_clock=lambda: 1_800_000_000.0)
    ids = [store.write(lambda sid, ts: payload(sid, ts, data="x" * 1000))[0].snapshot_id for _ in range(5)]
    kept = store.list()
    assert [s.snapshot_id for s in kept] == ids[2:]
    assert sum(s.size_bytes for s in kept) <= store.max_total_bytes
    big, _ = store.write(lambda sid, ts: payload(sid, ts, data="x" * (2 * size)))
    assert [s.snapshot_id for s in store.list()] == [big.snapshot_id]  # alone, it still fits


def test_store_snapshot_larger_than_the_whole_budget_is_refused_and_nothing_is_deleted(tmp_path):
    store = SnapshotStore(tmp_path, 10, max_total_bytes=4096, wall_clock=lambda: 1_800_000_000.0)
    kept, _ = store.write(payload)
    with pytest.raises(StorageFullError, match="larger than the total kept for snapshots"):
        store.write(lambda sid, ts: payload(sid, ts, data="x" * 5000))
    assert os.listdir(tmp_path) == [f"{kept.snapshot_id}.json"]


def test_store_concurrent_writes_get_unique_ids(tmp_path):
    stores = [SnapshotStore(tmp_path, 100, wall_clock=lambda: 1_800_000_000.0) for _ in range(2)]
    ids, errors = [], []

    def write(store):
        try:
            ids.append(store.write(payload)[0].snapshot_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(stores[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(ids) == len(set(ids)) == 12
    assert len(os.listdir(tmp_path)) == 12


@pytest.mark.parametrize(
    "bad_id",
    [
        "../x",
        "..%2Fx",
        "snapshot_1/../../etc/passwd",
        "snapshot_1\x00",
        "snapshot_abc",
        "",
        "snapshot_1.json",
        "/etc",
    ],
)
def test_store_get_refuses_anything_but_a_listed_id(tmp_path, bad_id):
    store = SnapshotStore(tmp_path, 5, wall_clock=lambda: 1_800_000_000.0)
    store.write(payload)
    (tmp_path.parent / "outside.json").write_text("{}")
    with pytest.raises(NotFoundError):
        store.get(bad_id)
    with pytest.raises(NotFoundError):
        store.get("snapshot_1799999999")  # well formed, unknown


def test_store_disk_full_raises_storage_full_and_leaves_no_file(tmp_path, monkeypatch):
    store = SnapshotStore(tmp_path, 5, wall_clock=lambda: 1_800_000_000.0)
    store.prepare()

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageFullError):
        store.write(payload)
    assert os.listdir(tmp_path) == []


def test_store_prepare_removes_leftover_temp_files_of_dead_writers(tmp_path):
    (tmp_path / ".snapshot_1800000000.999999999.0badcafe.tmp").write_text("partial")
    old = tmp_path / f".snapshot_1800000001.{os.getpid()}.deadbeef.tmp"
    old.write_text("partial")
    os.utime(old, (0, 0))
    (tmp_path / f".snapshot_1800000002.{os.getpid()}.0123abcd.tmp").write_text("being written")
    (tmp_path / "notes.txt").write_text("not ours")
    SnapshotStore(tmp_path, 5).prepare()
    assert sorted(os.listdir(tmp_path)) == [f".snapshot_1800000002.{os.getpid()}.0123abcd.tmp", "notes.txt"]


def test_store_load_validates_what_it_reads(tmp_path):
    store = SnapshotStore(tmp_path, 5, wall_clock=lambda: 1_800_000_000.0)
    (tmp_path / "snapshot_1700000000.json").write_bytes(b"\x80\x04pickle")
    (tmp_path / "snapshot_1700000001.json").write_text(json.dumps({"format": "other"}))
    for foreign in ("snapshot_1700000000", "snapshot_1700000001"):
        with pytest.raises(NotFoundError):
            store.load(foreign)
    written, _ = store.write(payload)
    assert store.load(written.snapshot_id)["snapshot_id"] == written.snapshot_id


def test_compare_snapshots_lists_what_grew_by_component_and_type():
    before = payload(
        "snapshot_1",
        100.0,
        memory={"rss_mb": 100.0},
        components=[{"component": "app.cache", "count": 10, "size_bytes": 1000}],
        types=[
            {"type": "builtins.dict", "count": 5, "size_bytes": 500},
            {"type": "x.Y", "count": 9, "size_bytes": 9},
        ],
    )
    after = payload(
        "snapshot_2",
        160.0,
        memory={"rss_mb": 112.5},
        components=[
            {"component": "app.cache", "count": 30, "size_bytes": 5000},
            {"component": "app.new", "count": 1, "size_bytes": 50},
            {"component": "bad", "count": "1"},
        ],
        types=[
            {"type": "builtins.dict", "count": 8, "size_bytes": 800},
            {"type": "x.Y", "count": 1, "size_bytes": 1},
        ],
    )
    result = compare_snapshots(before, after)
    assert result["elapsed_secs"] == 60.0
    assert result["rss_delta_mb"] == 12.5
    assert [(r["component"], r["size_delta_bytes"], r["count_delta"]) for r in result["components"]] == [
        ("app.cache", 4000, 20),
        ("app.new", 50, 1),
    ]
    assert [(r["type"], r["count_delta"]) for r in result["types"]] == [("builtins.dict", 3)]


def test_compare_snapshots_keys_types_without_memory_addresses():
    # names written by a census that put a `__module__` property's repr into the name
    before = payload(
        "snapshot_1", 1.0, types=[{"type": "<property object at 0x7f01>.Proxy", "count": 2, "size_bytes": 20}]
    )
    after = payload(
        "snapshot_2", 2.0, types=[{"type": "<property object at 0x7fab>.Proxy", "count": 5, "size_bytes": 50}]
    )
    (row,) = compare_snapshots(before, after)["types"]
    assert (row["type"], row["count_before"], row["count_after"]) == ("<property object>.Proxy", 2, 5)


def test_store_write_failure_is_a_profiling_error_and_leaves_no_file(tmp_path, monkeypatch):
    store = SnapshotStore(tmp_path, 5, wall_clock=lambda: 1_800_000_000.0)
    store.prepare()

    def denied(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", denied)
    with pytest.raises(ProfilingError, match="Input/output error"):
        store.write(payload)
    assert os.listdir(tmp_path) == []


def test_store_directory_that_cannot_be_created_is_a_profiling_error_not_an_oserror(tmp_path, caplog):
    (tmp_path / "a-file").write_text("not a directory")
    store = SnapshotStore(tmp_path / "a-file" / "snapshots", 5, wall_clock=lambda: 1_800_000_000.0)
    with pytest.raises(ProfilingError, match="Could not write the snapshot: Not a directory") as raised:
        store.write(payload)
    assert not isinstance(raised.value, StorageFullError)
    assert "could not write the snapshot directory" in caplog.text

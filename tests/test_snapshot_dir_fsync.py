"""A snapshot's directory fsync that fails is logged (the snapshot itself is kept), never silent."""

from __future__ import annotations

import errno
import logging
import os
import stat

from profiling.core.memory import snapshots
from profiling.core.memory.snapshots import SnapshotStore


def test_a_failed_directory_fsync_is_logged_and_the_snapshot_kept(tmp_path, monkeypatch, caplog):
    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(snapshots.os, "fsync", fsync)
    caplog.set_level(logging.WARNING, logger="profiling.core.memory.snapshots")
    store = SnapshotStore(tmp_path / "snaps", 5, wall_clock=lambda: 1_800_000_000.5)
    snapshot, _ = store.write(lambda snapshot_id, now: {"snapshot_id": snapshot_id})
    assert snapshot.path.exists()
    messages = [r.getMessage() for r in caplog.records if r.name == "profiling.core.memory.snapshots"]
    assert messages == [f"could not fsync the snapshot directory {tmp_path / 'snaps'}: Input/output error"]

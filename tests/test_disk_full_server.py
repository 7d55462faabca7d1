"""A real server whose snapshot directory is a tiny tmpfs: a full disk is a clean 507, nothing else."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

pytestmark = pytest.mark.server

SNAPSHOT_ENV = {"PROFILING_RATE_SNAPSHOT": "50/h"}


@pytest.fixture
def tiny_fs(tmp_path):
    """A 256 KiB tmpfs (at most 64 inodes) mounted for the test, unmounted after it."""
    mountpoint = tmp_path / "snapshots"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        pytest.fail("mounting the test's tiny tmpfs needs root (CI runs the suite as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,nr_inodes=64,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.fail(f"could not mount a tmpfs at {mountpoint}: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30)


def fill_blocks(directory) -> None:
    """Write one file until the filesystem has no block left."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            os.write(fd, chunk)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert os.statvfs(directory).f_bavail == 0


def fill_inodes(directory) -> None:
    """Create empty files until the filesystem has no inode left (blocks stay free)."""
    (directory / "fillers").mkdir()
    try:
        for n in range(1000):
            (directory / "fillers" / str(n)).touch()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError("the tmpfs never ran out of inodes")
    assert os.statvfs(directory).f_ffree == 0 and os.statvfs(directory).f_bavail > 0


def free_space(directory) -> None:
    filler = directory / "filler"
    if filler.exists():
        filler.unlink()
    fillers = directory / "fillers"
    if fillers.exists():
        for path in fillers.iterdir():
            path.unlink()
        fillers.rmdir()


def our_files(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name not in {"filler", "fillers"})


@pytest.mark.parametrize("fill", [fill_blocks, fill_inodes], ids=["no-blocks", "no-inodes"])
def test_server_on_a_full_disk_answers_507_keeps_nothing_and_recovers(tiny_fs, daphne_server, fill):
    server = daphne_server(env={**SNAPSHOT_ENV, "PROFILING_SNAPSHOT_DIR": str(tiny_fs)})
    with server.client() as client:
        first = client.post("/api/profiling/snapshot")
        assert first.status_code == 200, first.text
        first_bytes = client.get(first.json()["download_url"]).content
        listing = client.get("/api/profiling/snapshots").json()
        assert listing["count"] == 1

        fill(tiny_fs)
        full = client.post("/api/profiling/snapshot")
        assert full.status_code == 507, full.text
        assert full.headers["content-type"] == "application/json"
        assert full.json() == {"detail": "Not enough disk space for the snapshot; nothing was kept."}
        assert our_files(tiny_fs) == [f"{first.json()['snapshot_id']}.json"]  # no temp file, no partial
        assert client.get("/api/profiling/snapshots").json() == listing
        assert client.get(first.json()["download_url"]).content == first_bytes

        # The rest of the service does not depend on the snapshot directory's free space.
        leaks = client.post("/api/profiling/leak-detection")
        assert leaks.status_code == 200, leaks.text
        assert leaks.json()["checks_analyzed"] >= 2
        assert client.get("/api/profiling/memory").status_code == 200

        free_space(tiny_fs)
        again = client.post("/api/profiling/snapshot")
        assert again.status_code == 200, again.text
        assert again.json()["size_bytes"] == (tiny_fs / f"{again.json()['snapshot_id']}.json").stat().st_size
        assert client.get("/api/profiling/snapshots").json()["count"] == 2
        assert our_files(tiny_fs) == sorted(
            f"{body['snapshot_id']}.json" for body in (first.json(), again.json())
        )
    server.stop()
    assert "Traceback" not in server.log()


def test_server_whose_snapshot_directory_cannot_be_created_on_a_full_disk_answers_507(tiny_fs, daphne_server):
    fill_inodes(tiny_fs)
    snapshot_dir = tiny_fs / "snapshots"  # not there yet, and no inode left to create it
    server = daphne_server(env={**SNAPSHOT_ENV, "PROFILING_SNAPSHOT_DIR": str(snapshot_dir)})
    with server.client() as client:
        full = client.post("/api/profiling/snapshot")
        assert full.status_code == 507, full.text
        assert full.json() == {"detail": "Not enough disk space for the snapshot; nothing was kept."}
        assert client.get("/api/profiling/snapshots").json()["count"] == 0
        free_space(tiny_fs)
        created = client.post("/api/profiling/snapshot")
        assert created.status_code == 200, created.text
        assert os.listdir(snapshot_dir) == [f"{created.json()['snapshot_id']}.json"]
    server.stop()
    assert "Internal Server Error" not in server.log()

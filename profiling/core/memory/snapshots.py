"""The heap snapshot store: JSON files written atomically, looked up by id, never by path.

The directory holds `<snapshot_id>.json` files and, only while one is being written,
a temp file `.<snapshot_id>.<pid>.<random>.tmp`. A write goes to the temp file, is fsynced, and
is then linked to its final name (`os.link` fails if the name exists, so two processes
never overwrite each other's snapshot; `os.replace` where links are unsupported), then
the temp name is removed and the directory fsynced. Ids are `snapshot_<unix seconds>`
with `_<n>` appended when that name is taken. Retention bounds both the number of files
and their total size: the oldest go first, never the one just written.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiling.core.errors import NotFoundError, ProfilingError, StorageFullError
from profiling.core.timefmt import iso_utc

logger = logging.getLogger(__name__)

FORMAT = "riptide-snapshot/1"
ID_PATTERN = re.compile(r"snapshot_([0-9]{1,12})(?:_([0-9]{1,6}))?")
FILE_PATTERN = re.compile(r"(snapshot_[0-9]{1,12}(?:_[0-9]{1,6})?)\.json")
TEMP_PATTERN = re.compile(r"\.(snapshot_[0-9]{1,12}(?:_[0-9]{1,6})?)\.([0-9]{1,10})\.[0-9a-f]{8}\.tmp")
# A temp file of a live process older than this is a leftover too (a writer takes < 1 s).
TEMP_MAX_AGE_SECS = 600.0
MIB = 1024 * 1024
MAX_READ_BYTES = 256 * MIB
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


@dataclass(frozen=True)
class SnapshotFile:
    snapshot_id: str
    path: Path
    size_bytes: int
    created: float  # unix seconds of the id (the file's mtime for order within a second)

    @property
    def order(self) -> tuple[int, int]:
        match = ID_PATTERN.fullmatch(self.snapshot_id)
        assert match is not None
        return int(match.group(1)), int(match.group(2) or 1)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SnapshotStore:
    """Write, list, open and prune the snapshot files of one directory."""

    def __init__(
        self,
        directory: Path,
        max_count: int,
        *,
        max_total_bytes: int | None = None,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.directory = Path(directory)
        self.max_count = max_count
        self.max_total_bytes = max_total_bytes
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._prepared = False
        self._last_order = (0, 0)

    def prepare(self) -> None:
        """Create the directory and remove temp files no live writer owns."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for entry in os.scandir(self.directory):
            match = TEMP_PATTERN.fullmatch(entry.name)
            if not match:
                continue
            try:
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if age > TEMP_MAX_AGE_SECS or not _pid_alive(int(match.group(2))):
                try:
                    os.unlink(entry.path)
                    logger.info("removed a leftover snapshot temp file %s", entry.name)
                except OSError:
                    pass
        self._prepared = True

    # -- reading -------------------------------------------------------------------------

    def list(self) -> list[SnapshotFile]:
        """The kept snapshots, oldest first, read from the directory itself."""
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        files = []
        for entry in entries:
            match = FILE_PATTERN.fullmatch(entry.name)
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            snapshot_id = match.group(1)
            seconds = int(ID_PATTERN.fullmatch(snapshot_id).group(1))
            files.append(SnapshotFile(snapshot_id, Path(entry.path), stat.st_size, float(seconds)))
        files.sort(key=lambda f: f.order)
        return files

    def get(self, snapshot_id: str) -> SnapshotFile:
        """The listed file of that id; NotFoundError for any other text."""
        if not isinstance(snapshot_id, str) or not ID_PATTERN.fullmatch(snapshot_id):
            raise NotFoundError("No such snapshot.")
        for snapshot in self.list():
            if snapshot.snapshot_id == snapshot_id:
                return snapshot
        raise NotFoundError("No such snapshot.")

    def load(self, snapshot_id: str) -> dict:
        """Read back a snapshot this service wrote (JSON only, validated)."""
        snapshot = self.get(snapshot_id)
        if snapshot.size_bytes > MAX_READ_BYTES:
            raise NotFoundError("That snapshot is too large to compare.")
        try:
            with open(snapshot.path, "rb") as handle:
                data = json.loads(handle.read())
        except (OSError, ValueError) as exc:
            raise NotFoundError("That snapshot cannot be read.") from exc
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or data.get("snapshot_id") != snapshot_id
        ):
            raise NotFoundError("That file is not a snapshot this service wrote.")
        return data

    # -- writing -------------------------------------------------------------------------

    def _next_id(self, taken: list[SnapshotFile]) -> str:
        """A fresh id, after every id kept or issued here: a pruned id is never reused."""
        seconds = int(self._wall_clock())
        latest = max([self._last_order, *(s.order for s in taken)])
        order = (seconds, 1) if seconds > latest[0] else (latest[0], latest[1] + 1)
        self._last_order = order
        return f"snapshot_{order[0]}" if order[1] == 1 else f"snapshot_{order[0]}_{order[1]}"

    def write(self, build: Callable[[str, float], dict]) -> tuple[SnapshotFile, float]:
        """Build the payload for a fresh id and write it; return the file and its timestamp."""
        with self._lock:
            if not self._prepared or not self.directory.is_dir():
                try:
                    self.prepare()
                except OSError as exc:  # e.g. no inode left to create the directory
                    raise _storage_error(exc, "the snapshot directory") from exc
            for _ in range(1000):
                snapshot_id = self._next_id(self.list())
                timestamp = self._wall_clock()
                data = json.dumps(build(snapshot_id, timestamp), separators=(",", ":")).encode()
                self._check_budget(len(data))
                final = self.directory / f"{snapshot_id}.json"
                if self._write_atomically(snapshot_id, final, data):
                    break  # else another process took that name meanwhile: next one
            else:
                raise StorageFullError("Could not find a free snapshot name.")
            written = SnapshotFile(snapshot_id, final, final.stat().st_size, float(int(timestamp)))
            self._prune(keep=snapshot_id)
            return written, timestamp

    def _check_budget(self, size: int) -> None:
        if self.max_total_bytes is not None and size > self.max_total_bytes:
            raise StorageFullError(
                f"The snapshot ({size / MIB:.1f} MB) is larger than the total kept for snapshots "
                f"({self.max_total_bytes / MIB:.1f} MB); nothing was kept."
            )

    def _write_atomically(self, snapshot_id: str, final: Path, data: bytes) -> bool:
        temp = self.directory / f".{snapshot_id}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, final)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                if final.exists():
                    return False
                os.replace(temp, final)
            self._fsync_directory()
            return True
        except OSError as exc:
            raise _storage_error(exc, f"snapshot {snapshot_id}") from exc
        finally:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass

    def _fsync_directory(self) -> None:
        """Make the new name durable; a failure is logged (the file itself was fsynced)."""
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError as exc:
            logger.warning(
                "could not open the snapshot directory %s to fsync it: %s",
                self.directory,
                exc.strerror or exc,
            )
            return
        try:
            os.fsync(fd)
        except OSError as exc:
            logger.warning(
                "could not fsync the snapshot directory %s: %s", self.directory, exc.strerror or exc
            )
        finally:
            os.close(fd)

    def _prune(self, keep: str) -> None:
        """Delete the oldest snapshots beyond the count or the total size, never `keep`."""
        snapshots = self.list()
        count = len(snapshots)
        total = sum(s.size_bytes for s in snapshots)
        for old in snapshots:
            over_total = self.max_total_bytes is not None and total > self.max_total_bytes
            if count <= self.max_count and not over_total:
                break
            if old.snapshot_id == keep:
                continue
            try:
                os.unlink(old.path)
                logger.info(
                    "deleted snapshot %s (retention: %d files, %s bytes)",
                    old.snapshot_id,
                    self.max_count,
                    self.max_total_bytes,
                )
            except FileNotFoundError:
                pass
            count -= 1
            total -= old.size_bytes

    def describe(self, snapshot: SnapshotFile) -> dict:
        return {
            "snapshot_id": snapshot.snapshot_id,
            "file_path": str(snapshot.path),
            "size_bytes": snapshot.size_bytes,
            "created_at": iso_utc(snapshot.created),
        }


def _storage_error(exc: OSError, what: str) -> ProfilingError:
    """507 for a full disk or quota (an expected condition); anything else is logged and a 500."""
    if exc.errno in _NO_SPACE:
        return StorageFullError("Not enough disk space for the snapshot; nothing was kept.")
    logger.error("could not write %s", what, exc_info=exc)
    return ProfilingError(f"Could not write the snapshot: {exc.strerror or exc}.")

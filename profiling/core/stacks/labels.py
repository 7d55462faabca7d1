"""Names of code objects as the API shows them, and whether they are application code."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import CodeType

# Dynamically created code (exec, lambdas in templates) could make the code cache
# grow without end: past this many entries it is cleared (labels themselves are
# deduplicated by name, file and line, so ids stay stable).
MAX_CACHED_CODES = 20_000
# Past this many distinct functions, new ones share one overflow label.
MAX_LABELS = 50_000

_LIBRARY_DIR_NAMES = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class FrameLabel:
    """One function as reported: `module.qualname`, its file and definition line."""

    function_name: str
    file_location: str
    line_number: int
    is_app: bool


OVERFLOW_LABEL = FrameLabel("[other functions]", "", 0, False)
OTHER_STACKS_LABEL = FrameLabel("[other stacks]", "", 0, False)
TRUNCATED_LABEL = FrameLabel("[truncated]", "", 0, False)


def _real(path: str) -> str:
    return os.path.realpath(path) if path else path


def default_library_dirs() -> list[str]:
    """The standard library, every site-packages directory and the scripts directory.

    The scripts directory (a virtual environment's `bin/`) holds the servers' console
    scripts (`gunicorn`, `daphne`, `uvicorn`): their `<module>` frame sits at the bottom of
    every thread of the server and is no application code.
    """
    dirs: set[str] = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"):
        if paths.get(key):
            dirs.add(paths[key])
    for attr in ("getsitepackages",):
        getter = getattr(site, attr, None)
        if getter is not None:
            dirs.update(getter())
    user_site = getattr(site, "USER_SITE", None)
    if user_site:
        dirs.add(user_site)
    dirs.add(os.path.dirname(os.__file__))  # the stdlib, whatever sysconfig says
    return sorted({_real(d) for d in dirs if d})


class CodeLabeler:
    """Turn code objects into small integer ids of `FrameLabel`s, caching every lookup.

    A file is application code unless it is frozen/built in (`<...>`), under the
    standard library or a site-packages directory. Its location is shown relative
    to the longest sys.path entry (or the project root) that contains it.
    """

    _shared: CodeLabeler | None = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> CodeLabeler:
        """The process's labeler: code objects and files are the same for every sampler."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def __init__(
        self,
        *,
        project_root: str | None = None,
        search_path: Iterable[str] | None = None,
        library_dirs: Iterable[str] | None = None,
    ):
        root = _real(project_root or os.getcwd())
        entries = list(sys.path if search_path is None else search_path)
        bases = {_real(entry or os.getcwd()) for entry in entries} | {root}
        # Longest first, so a file is relative to the most specific entry.
        self._bases = sorted((b.rstrip(os.sep) + os.sep for b in bases if b), key=len, reverse=True)
        libs = default_library_dirs() if library_dirs is None else [_real(d) for d in library_dirs]
        self._library_prefixes = tuple(d.rstrip(os.sep) + os.sep for d in libs)
        self._by_code: dict[CodeType, int] = {}
        self._ids: dict[FrameLabel, int] = {}
        self.labels: list[FrameLabel] = []
        self._files: dict[str, tuple[str, bool]] = {}
        self._intern_lock = threading.Lock()
        for fixed in (OVERFLOW_LABEL, OTHER_STACKS_LABEL, TRUNCATED_LABEL):
            self._intern(fixed)

    @property
    def overflow_id(self) -> int:
        return self._ids[OVERFLOW_LABEL]

    @property
    def other_stacks_id(self) -> int:
        return self._ids[OTHER_STACKS_LABEL]

    @property
    def truncated_id(self) -> int:
        return self._ids[TRUNCATED_LABEL]

    def label(self, label_id: int) -> FrameLabel:
        return self.labels[label_id]

    def is_app(self, label_id: int) -> bool:
        return self.labels[label_id].is_app

    def cached_id(self, code: CodeType) -> int | None:
        """The id of an already labelled code object, else None (no globals needed)."""
        return self._by_code.get(code)

    def label_id(self, code: CodeType, module: str | None) -> int:
        """The id of a code object's label (`module` is its frame's `__name__`)."""
        found = self._by_code.get(code)
        if found is not None:
            return found
        if len(self._by_code) >= MAX_CACHED_CODES:
            self._by_code.clear()
        label_id = self._intern(self.describe(code, module))
        self._by_code[code] = label_id
        return label_id

    def describe(self, code: CodeType, module: str | None) -> FrameLabel:
        location, is_app = self.classify_file(code.co_filename)
        if not module:
            module = _module_from_location(location)
        qualname = getattr(code, "co_qualname", code.co_name)
        return FrameLabel(f"{module}.{qualname}", location, code.co_firstlineno, is_app)

    def classify_file(self, filename: str) -> tuple[str, bool]:
        """Return (location relative to its sys.path entry, is application code)."""
        found = self._files.get(filename)
        if found is not None:
            return found
        if filename.startswith("<") or not filename:
            result = (filename, False)
        else:
            path = _real(os.path.abspath(filename))
            parts = path.split(os.sep)
            is_library = path.startswith(self._library_prefixes) or any(
                name in parts for name in _LIBRARY_DIR_NAMES
            )
            location = path
            for base in self._bases:
                if path.startswith(base):
                    location = path[len(base) :]
                    break
            result = (location, not is_library)
        if len(self._files) < MAX_CACHED_CODES:
            self._files[filename] = result
        return result

    def intern(self, label: FrameLabel) -> int:
        """The id of a label made by hand (a route's), the overflow id once the labels are full."""
        return self._intern(label)

    def _intern(self, label: FrameLabel) -> int:
        found = self._ids.get(label)
        if found is not None:
            return found
        with self._intern_lock:
            found = self._ids.get(label)
            if found is not None:
                return found
            if len(self.labels) >= MAX_LABELS:
                return self._ids[OVERFLOW_LABEL]
            self.labels.append(label)
            self._ids[label] = len(self.labels) - 1
            return self._ids[label]


def _module_from_location(location: str) -> str:
    stem = location[:-3] if location.endswith(".py") else location
    return stem.replace(os.sep, ".").removesuffix(".__init__") or "<unknown>"

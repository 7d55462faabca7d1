"""Name code the way the API does: application modules, and `module.qualname` of a source line."""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import types
from collections import OrderedDict
from functools import lru_cache

# The profiler does not report on itself: its own stores are bounded by design.
PROFILER_PACKAGE = "profiling"

_LIBRARY_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


@lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    roots = set()
    # "scripts": a virtual environment's bin/, where servers' console scripts live.
    for key in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path) + os.sep)
            roots.add(os.path.abspath(path) + os.sep)
    for prefix in {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}:
        lib = os.path.join(prefix, "lib")
        roots.add(os.path.realpath(lib) + os.sep)
        roots.add(os.path.abspath(lib) + os.sep)
    return tuple(sorted(roots))


@lru_cache(maxsize=4096)
def is_application_file(filename: str | None) -> bool:
    """True for a source file of the service itself: not the standard library, not site-packages."""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    if any(marker in path for marker in _LIBRARY_MARKERS):
        return False
    real = os.path.realpath(path)
    return not any(p.startswith(_library_roots()) for p in (path, real))


def is_application_module(module: types.ModuleType) -> bool:
    """True for a loaded module of the service (the profiler's own modules excluded)."""
    name = getattr(module, "__name__", None)
    if not isinstance(name, str) or name == "__main__":
        return False
    if name == PROFILER_PACKAGE or name.startswith(PROFILER_PACKAGE + "."):
        return False
    return is_application_file(getattr(module, "__file__", None))


def application_modules() -> list[types.ModuleType]:
    """The loaded application modules, sorted by name."""
    modules = [m for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)]
    return sorted((m for m in modules if is_application_module(m)), key=lambda m: m.__name__)


def _code_objects(module: types.ModuleType) -> list[types.CodeType]:
    """The code objects of a module's functions, methods and classes, nested ones included."""
    found: list[types.CodeType] = []
    seen: set[int] = set()

    def add_code(code: types.CodeType) -> None:
        if id(code) in seen:
            return
        seen.add(id(code))
        found.append(code)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                add_code(const)

    def add_callable(obj: object) -> None:
        for candidate in (obj, *(getattr(obj, a, None) for a in ("__func__", "fget", "__wrapped__"))):
            code = getattr(candidate, "__code__", None)
            if isinstance(code, types.CodeType):
                add_code(code)

    for value in list(vars(module).values()):
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if isinstance(value, type):
            for attr in list(vars(value).values()):
                add_callable(attr)
        else:
            add_callable(value)
    return found


class CodeLocator:
    """Map (file, line) to the enclosing function's `module.qualname`, cached per file.

    Built from the code objects of loaded modules (functions, methods, nested code),
    never by reading or executing source. A line outside any function (module-level
    code) is named by its module; a file of no loaded module by its path.
    """

    def __init__(self, max_files: int = 512):
        self._max_files = max_files
        self._files: OrderedDict[str, tuple[str, list[tuple[int, int, str]]]] = OrderedDict()
        self._module_by_file: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _modules_by_file(self) -> dict[str, str]:
        mapping = {}
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None)
            if isinstance(filename, str):
                mapping[os.path.abspath(filename)] = module.__name__
        return mapping

    def _index(self, filename: str) -> tuple[str, list[tuple[int, int, str]]]:
        path = os.path.abspath(filename)
        if self._module_by_file is None or path not in self._module_by_file:
            self._module_by_file = self._modules_by_file()
        module_name = self._module_by_file.get(path)
        if module_name is None:
            return filename, []
        module = sys.modules.get(module_name)
        spans = []
        if module is not None:
            for code in _code_objects(module):
                lines = [line for _, _, line in code.co_lines() if line is not None]
                if lines:
                    spans.append((min(lines + [code.co_firstlineno]), max(lines), code.co_qualname))
        return module_name, spans

    def name(self, filename: str, lineno: int) -> str:
        """The `module.qualname` of the function holding that line (or the module's name)."""
        with self._lock:
            entry = self._files.get(filename)
            if entry is None:
                entry = self._index(filename)
                self._files[filename] = entry
                if len(self._files) > self._max_files:
                    self._files.popitem(last=False)
            else:
                self._files.move_to_end(filename)
        module_name, spans = entry
        best: tuple[int, str] | None = None
        for first, last, qualname in spans:
            if first <= lineno <= last and (best is None or last - first < best[0]):
                best = (last - first, qualname)
        return module_name if best is None else f"{module_name}.{best[1]}"

"""A cheap census of memory: containers held by application code, and objects by type.

No tracing: a census walks the globals and class attributes of application modules
(one level into module-level instances of application classes) and measures each
container it finds there: its length and an approximate size (its own size plus its
length times the mean size of a few sampled elements). The type census counts every
object the garbage collector tracks (`gc.get_objects()`, ~44 ms at 1e6 objects) and
estimates sizes by type from an evenly strided sample of at most TYPE_SAMPLE objects.
"""

from __future__ import annotations

import gc
import itertools
import logging
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from profiling.core.memory.naming import application_modules

logger = logging.getLogger(__name__)

CONTAINER_TYPES = (dict, list, set, frozenset, deque, bytearray)
ELEMENTS_SAMPLED = 16
CHILDREN_SAMPLED = 8
TYPE_SAMPLE = 20_000
MAX_COMPONENTS = 500
MAX_TYPES = 100


@dataclass(frozen=True, slots=True)
class Measure:
    """One container (or one type): how many items (objects) and about how many bytes."""

    count: int
    size_bytes: int


@dataclass(frozen=True)
class Census:
    """What one leak check measured, at `timestamp` (unix seconds)."""

    timestamp: float
    monotonic: float
    components: dict[str, Measure]
    types: dict[str, Measure] = field(default_factory=dict)
    objects_total: int | None = None
    rss_bytes: int | None = None
    duration_ms: float = 0.0


def _sample(container, k: int) -> list:
    """Up to k elements (key/value pairs for dicts) from both ends or evenly spaced."""
    n = len(container)
    if n == 0:
        return []
    half = max(1, k // 2)
    if isinstance(container, dict):
        first = list(itertools.islice(container.items(), half))
        last = list(itertools.islice(reversed(container.items()), half)) if n > half else []
        return first + last
    if isinstance(container, list):
        step = max(1, n // k)
        return [container[i] for i in range(0, n, step)][:k]
    if isinstance(container, deque):
        return [container[i] for i in range(min(half, n))] + [
            container[-1 - i] for i in range(min(half, n - half))
        ]
    return list(itertools.islice(iter(container), k))


def _element_size(element) -> int:
    size = sys.getsizeof(element)
    if isinstance(element, (list, tuple, set, frozenset, dict)) and element:
        children = (
            _sample(element, CHILDREN_SAMPLED)
            if not isinstance(element, tuple)
            else element[:CHILDREN_SAMPLED]
        )
        if isinstance(element, dict):
            per = sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in children) / len(children)
        else:
            per = sum(sys.getsizeof(c) for c in children) / len(children)
        size += int(per * len(element))
    return size


def approximate_size(container) -> int:
    """Bytes held by a container: its own size plus its length times a sampled element size."""
    base = sys.getsizeof(container)
    if isinstance(container, bytearray) or not container:
        return base
    for _ in range(3):  # another thread may resize it while we look
        try:
            elements = _sample(container, ELEMENTS_SAMPLED)
            break
        except (RuntimeError, IndexError):
            continue
    else:
        return base
    if not elements:
        return base
    if isinstance(container, dict):
        per = sum(sys.getsizeof(k) + _element_size(v) for k, v in elements) / len(elements)
    else:
        per = sum(_element_size(e) for e in elements) / len(elements)
    return int(base + per * len(container))


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _module_containers(
    module, app_names: set[str], found: Callable[[object], bool]
) -> list[tuple[str, object]]:
    prefix = module.__name__
    held = []
    for name, value in list(vars(module).items()):
        if _is_dunder(name) or isinstance(value, type(sys)):
            continue
        if found(value):
            held.append((f"{prefix}.{name}", value))
        elif isinstance(value, type):
            if value.__module__ == prefix:
                for attr, attr_value in list(vars(value).items()):
                    if not _is_dunder(attr) and found(attr_value):
                        held.append((f"{prefix}.{value.__qualname__}.{attr}", attr_value))
        elif type(value).__module__ in app_names:
            attrs = getattr(value, "__dict__", None)
            if isinstance(attrs, dict):
                for attr, attr_value in list(attrs.items()):
                    if found(attr_value):
                        held.append((f"{prefix}.{name}.{attr}", attr_value))
    return held


def held_containers(modules: Iterable) -> Iterable[tuple[str, object]]:
    """(name, container) for containers held by module globals, class attributes and
    the attributes of module-level instances of application classes; each once."""
    modules = list(modules)
    app_names = {m.__name__ for m in modules}
    seen: set[int] = set()

    def found(value) -> bool:
        if isinstance(value, CONTAINER_TYPES) and id(value) not in seen:
            seen.add(id(value))
            return True
        return False

    for module in modules:
        try:
            held = _module_containers(module, app_names, found)
        except Exception:  # an odd module (lazy attributes, broken descriptors): skip it
            logger.debug("census skipped module %s", getattr(module, "__name__", "?"), exc_info=True)
            continue
        yield from held


def container_census(
    modules: Iterable | None = None, max_components: int = MAX_COMPONENTS
) -> dict[str, Measure]:
    """Measure the containers application code holds; keep the largest `max_components`."""
    measures = []
    for name, container in held_containers(application_modules() if modules is None else modules):
        try:
            # interned: the same name in every census of the history is stored once
            measures.append((sys.intern(name), Measure(len(container), approximate_size(container))))
        except Exception:  # an exotic subclass whose len/iteration fails: skip it
            continue
    measures.sort(key=lambda item: item[1].size_bytes, reverse=True)
    return dict(measures[:max_components])


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def type_census(max_types: int = MAX_TYPES, sample: int = TYPE_SAMPLE) -> tuple[dict[str, Measure], int]:
    """Count objects the GC tracks by type, with sizes estimated from a strided sample."""
    objects = gc.get_objects()
    total = len(objects)
    counts = Counter(map(type, objects))
    stride = max(1, -(-total // sample))  # ceil: at most `sample` objects
    sampled_bytes: Counter = Counter()
    sampled_count: Counter = Counter()
    sample_objects = objects[::stride]
    del objects
    sampled_count.update(map(type, sample_objects))
    for obj in sample_objects:
        try:
            sampled_bytes[type(obj)] += sys.getsizeof(obj)
        except Exception:
            sampled_bytes[type(obj)] += type(obj).__basicsize__
    del sample_objects
    sizes = {}
    for cls, count in counts.items():
        per = sampled_bytes[cls] / sampled_count[cls] if sampled_count[cls] else cls.__basicsize__
        sizes[cls] = Measure(count, int(per * count))
    biggest = sorted(sizes.items(), key=lambda item: item[1].size_bytes, reverse=True)[:max_types]
    return {sys.intern(type_name(cls)): measure for cls, measure in biggest}, total


class CensusTaker:
    """Take a census now; the clocks, module source and RSS reader are injectable."""

    def __init__(
        self,
        *,
        modules: Callable[[], Iterable] = application_modules,
        rss: Callable[[], int | None] | None = None,
        with_types: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._modules = modules
        self._rss = rss
        self._with_types = with_types
        self._clock = clock
        self._wall_clock = wall_clock

    def __call__(self) -> Census:
        started = time.perf_counter()
        components = container_census(self._modules())
        types, total = type_census() if self._with_types else ({}, None)
        rss = self._rss() if self._rss is not None else None
        return Census(
            timestamp=self._wall_clock(),
            monotonic=self._clock(),
            components=components,
            types=types,
            objects_total=total,
            rss_bytes=rss,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )

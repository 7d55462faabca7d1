"""A cheap census of memory: containers held by application code, and objects by type.

No tracing: a census walks from the globals and class attributes of application modules,
through instances of application classes and the first elements of containers, within a
budget (walk.py), and measures each container it finds: its length and an approximate
size (its own size plus its length times the mean size of a few sampled elements). It
also notes whether the oldest or newest item of the previous check is still held (an
LRU that evicts, or a list cleared and refilled, gives its items back). The type census
counts every object the garbage collector tracks (`gc.get_objects()`) and estimates sizes
by type from an evenly strided sample of at most TYPE_SAMPLE objects.
"""

from __future__ import annotations

import gc
import itertools
import logging
import sys
import time
import types
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from profiling.core.memory.naming import application_modules
from profiling.core.memory.walk import MAX_VISITS, walk_containers

logger = logging.getLogger(__name__)

ELEMENTS_SAMPLED = 16
CHILDREN_SAMPLED = 8
TYPE_SAMPLE = 20_000
MAX_COMPONENTS = 500
MAX_TYPES = 100
# An end item without weak references is held (until the next check) only when this small.
HELD_ITEM_MAX_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Measure:
    """One container (or one type): how many items (objects) and about how many bytes."""

    count: int
    size_bytes: int
    # The previous check's oldest or newest item is still held: True; both gone: False
    # (the items were given back); None when it cannot be told (first check, a set, empty).
    retained: bool | None = None


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
    objects_walked: int = 0
    walk_truncated: bool = False
    components_skipped: int = 0  # containers found whose len() or size failed


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
    # type(), not isinstance(): a lazy proxy answers isinstance() by evaluating what it wraps
    if issubclass(type(element), (list, tuple, set, frozenset, dict)) and element:
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


def held_containers(modules: Iterable) -> list[tuple[str, object]]:
    """(path, container) for the containers the walk from the modules' globals finds; each once."""
    return walk_containers(modules).containers


@dataclass
class Components:
    """The containers a census measured: the largest `max_components`, and what the walk cost."""

    measures: dict[str, Measure]
    ends: dict[str, tuple]  # path -> references to the oldest and newest items, for the next check
    walked: int = 0
    truncated: bool = False
    skipped: int = 0


def _reference(item):
    """Something that tells, at the next check, whether `item` is the same object (None: cannot)."""
    try:
        return weakref.ref(item)
    except TypeError:
        pass
    try:
        small = sys.getsizeof(item) <= HELD_ITEM_MAX_BYTES
    except Exception:
        return None
    return (item,) if small else None  # held strongly, so its address cannot be reused


def _same(reference, item) -> bool | None:
    if reference is None:
        return None
    if isinstance(reference, tuple):
        return reference[0] is item
    return reference() is item


def _end_items(container) -> tuple | None:
    """(oldest, newest) items: dict keys or list/deque elements; () when empty; None for others."""
    try:
        if isinstance(container, dict):
            return (next(iter(container)), next(reversed(container))) if container else ()
        if isinstance(container, (list, deque)):
            return (container[0], container[-1]) if container else ()
    except Exception:  # mutated while we looked, or a subclass whose iteration fails
        return None
    return None


def _retained(previous: tuple | None, items: tuple | None) -> bool | None:
    if not previous or items is None:
        return None
    if items == ():
        return False
    verdicts = [_same(previous[0], items[0]), _same(previous[1], items[1])]
    if any(verdicts):
        return True
    return None if None in verdicts else False


def container_census(
    modules: Iterable | None = None,
    max_components: int = MAX_COMPONENTS,
    previous_ends: dict[str, tuple] | None = None,
    max_visits: int = MAX_VISITS,
) -> Components:
    """Measure the containers application code holds; keep the largest `max_components`."""
    walk = walk_containers(application_modules() if modules is None else modules, max_visits=max_visits)
    previous_ends = previous_ends or {}
    measured = []
    skipped = 0
    for name, container in walk.containers:
        try:
            measured.append((name, container, len(container), approximate_size(container)))
        except Exception:  # an exotic subclass whose len or iteration fails: counted, not measured
            skipped += 1
    measured.sort(key=lambda item: item[3], reverse=True)
    measures: dict[str, Measure] = {}
    ends: dict[str, tuple] = {}
    for name, container, count, size in measured[:max_components]:
        name = sys.intern(name)  # the same name in every census of the history is stored once
        items = _end_items(container)
        measures[name] = Measure(count, size, _retained(previous_ends.get(name), items))
        if items:
            ends[name] = (_reference(items[0]), _reference(items[1]))
        elif items == ():
            ends[name] = ()
    return Components(measures, ends, walk.visited, walk.truncated, skipped)


def _module_of(cls: type) -> str:
    """The module that defined `cls`, also when the class hides `__module__` behind a property."""
    module = cls.__dict__.get("__module__", getattr(cls, "__module__", None))
    if isinstance(module, str):
        return module
    for value in list(vars(cls).values()):  # a function of the class body knows its module
        function = getattr(value, "__func__", value)
        if isinstance(function, types.FunctionType) and isinstance(function.__module__, str):
            return function.__module__
    return "<unknown module>"


def type_name(cls: type) -> str:
    """`module.qualname`: the same for a type in every census, never an object's address."""
    qualname = getattr(cls, "__qualname__", None)
    return f"{_module_of(cls)}.{qualname if isinstance(qualname, str) else cls.__name__}"


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
        self._ends: dict[str, tuple] = {}  # the previous check's end items, by path

    def __call__(self) -> Census:
        started = time.perf_counter()
        components = container_census(self._modules(), previous_ends=self._ends)
        self._ends = components.ends
        types, total = type_census() if self._with_types else ({}, None)
        rss = self._rss() if self._rss is not None else None
        return Census(
            timestamp=self._wall_clock(),
            monotonic=self._clock(),
            components=components.measures,
            types=types,
            objects_total=total,
            rss_bytes=rss,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            objects_walked=components.walked,
            walk_truncated=components.truncated,
            components_skipped=components.skipped,
        )

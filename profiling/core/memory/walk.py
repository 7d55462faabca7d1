"""A bounded walk from application module globals to the containers they hold, at any depth.

Breadth first from the globals and class attributes of application modules, through the
attributes of instances of application classes and the first few elements of containers
(and tuples), so a dict inside an instance held in a module-global list is found and
named by its path: `myapp.store._registry[0].entries`. Each object is examined once (the
shallowest path names it). The walk is budgeted: at most `max_visits` objects examined,
`max_depth` steps from a global, `max_containers` containers found, and an optional time
limit; when a budget runs out the walk stops and says so.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

CONTAINER_TYPES = (dict, list, set, frozenset, deque, bytearray)
# Walked into for what they hold, but not measured themselves (they cannot grow).
PASS_THROUGH_TYPES = (tuple,)
MAX_VISITS = 20_000
MAX_DEPTH = 6
MAX_CONTAINERS = 2_000
ELEMENTS_WALKED = 8  # of each list, deque, tuple or dict, from its start (stable names)
ATTRIBUTES_WALKED = 64  # of each instance
KEY_CHARS = 40


@dataclass
class Walk:
    """What a walk found: (path, container) pairs, shallowest first, and what it cost."""

    containers: list[tuple[str, object]] = field(default_factory=list)
    visited: int = 0
    truncated: bool = False


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _key_label(key) -> str | None:
    """A stable, short label for a dict key (str, int, bool, None); None for any other key."""
    if key is None or isinstance(key, (bool, int)):
        text = repr(key)
    elif isinstance(key, str):
        text = repr(key)
    else:
        return None
    return text if len(text) <= KEY_CHARS else None


def _instance_attributes(obj) -> list[tuple[str, object]]:
    try:  # never through the object's own __getattribute__ or __getattr__
        attrs = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        attrs = None
    found = []
    if isinstance(attrs, dict):
        pairs = list(itertools.islice(attrs.items(), ATTRIBUTES_WALKED))  # one C-level copy
        found = [(k, v) for k, v in pairs if isinstance(k, str)]
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if isinstance(slot, str) and not _is_dunder(slot) and len(found) < ATTRIBUTES_WALKED:
                try:
                    found.append((slot, object.__getattribute__(obj, slot)))
                except AttributeError:
                    continue
    return [(k, v) for k, v in found if not _is_dunder(k)]


def _children(name: str, obj, is_app_instance: bool) -> list[tuple[str, object]]:
    """The next steps of the walk from `obj`: (path, value) pairs."""
    if isinstance(obj, dict):  # obj is a container or an application instance, not a proxy
        children = []
        for key, value in list(itertools.islice(obj.items(), ELEMENTS_WALKED)):
            label = _key_label(key)
            if label is not None:
                children.append((f"{name}[{label}]", value))
        return children
    if isinstance(obj, (list, tuple, deque)):
        return [(f"{name}[{i}]", obj[i]) for i in range(min(len(obj), ELEMENTS_WALKED))]
    if is_app_instance:
        return [(f"{name}.{attr}", value) for attr, value in _instance_attributes(obj)]
    return []


def walk_containers(
    modules: Iterable,
    *,
    max_visits: int = MAX_VISITS,
    max_depth: int = MAX_DEPTH,
    max_containers: int = MAX_CONTAINERS,
    time_limit_secs: float | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> Walk:
    """Walk from the modules' globals; every container found, named by its shortest path."""
    modules = list(modules)
    app_names = {m.__name__ for m in modules}
    walk = Walk()
    seen: set[int] = set()
    queue: deque[tuple[str, object, int, bool]] = deque()
    deadline = None if time_limit_secs is None else timer() + time_limit_secs

    # Types are read with type(), never isinstance(): a lazy proxy (Django's LazyObject)
    # answers isinstance() through a `__class__` property that evaluates what it wraps.
    def is_app_instance(value) -> bool:
        cls = type(value)
        module = getattr(cls, "__module__", None)
        return isinstance(module, str) and module in app_names and not issubclass(cls, type)

    def consider(name: str, value, depth: int) -> bool:
        """Examine one value; False once a budget is spent."""
        if walk.visited >= max_visits or len(walk.containers) >= max_containers:
            walk.truncated = True
            return False
        walk.visited += 1
        if id(value) in seen:
            return True
        cls = type(value)
        if issubclass(cls, CONTAINER_TYPES):
            seen.add(id(value))
            walk.containers.append((name, value))
            if depth < max_depth and not issubclass(cls, (set, frozenset, bytearray)):
                queue.append((name, value, depth, False))
        elif issubclass(cls, PASS_THROUGH_TYPES) or is_app_instance(value):
            seen.add(id(value))
            if depth < max_depth:
                queue.append((name, value, depth, not issubclass(cls, PASS_THROUGH_TYPES)))
        return True

    for module in modules:
        prefix = module.__name__
        try:
            items = list(vars(module).items())
        except Exception:  # an odd module (lazy attributes): skip it
            logger.debug("census skipped module %s", prefix, exc_info=True)
            continue
        for attr, value in items:
            if _is_dunder(attr) or issubclass(type(value), type(sys)):
                continue
            if issubclass(type(value), type):
                if getattr(value, "__module__", None) != prefix:
                    continue
                try:
                    class_items = list(vars(value).items())
                except Exception:
                    continue
                for class_attr, class_value in class_items:
                    if not _is_dunder(class_attr) and not consider(
                        f"{prefix}.{value.__qualname__}.{class_attr}", class_value, 0
                    ):
                        return walk
            elif not consider(f"{prefix}.{attr}", value, 0):
                return walk
    while queue:
        if deadline is not None and timer() > deadline:
            walk.truncated = True
            return walk
        name, obj, depth, app_instance = queue.popleft()
        try:
            children = _children(name, obj, app_instance)
        except Exception:  # mutated while we looked, or an exotic container: skip it
            logger.debug("census could not walk into %s", name, exc_info=True)
            continue
        for child_name, child in children:
            if not consider(child_name, child, depth + 1):
                return walk
    return walk

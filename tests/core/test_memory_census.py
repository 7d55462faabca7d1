"""The container census: who holds what, approximate sizes, types, and naming of code."""

import sys
import types
from collections import deque

import pytest

from profiling.core.memory import naming
from profiling.core.memory.census import (
    CensusTaker,
    Measure,
    approximate_size,
    container_census,
    held_containers,
    type_census,
)
from profiling.core.memory.naming import CodeLocator, is_application_file


def fake_module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"/srv/app/{name.replace('.', '/')}.py"
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def test_held_containers_names_globals_class_attributes_and_instance_attributes():
    module = fake_module("myapp.cache")

    class Registry:
        handlers: list = [1, 2]

    Registry.__module__ = "myapp.cache"
    Registry.__qualname__ = "Registry"

    class Cache:
        def __init__(self):
            self._entries = {"a": 1}

    Cache.__module__ = "myapp.cache"
    module._table = {1: 2}
    module.Registry = Registry
    module.cache = Cache()
    module.__all__ = ["x"]
    names = dict(held_containers([module]))
    assert set(names) == {"myapp.cache._table", "myapp.cache.Registry.handlers", "myapp.cache.cache._entries"}


def test_held_containers_counts_a_shared_container_once():
    shared = {"k": 1}
    names = [
        name
        for name, _ in held_containers([fake_module("a.first", x=shared), fake_module("a.second", y=shared)])
    ]
    assert names == ["a.first.x"]


def test_approximate_size_counts_elements_and_values():
    payload = {i: bytes(10_000) for i in range(100)}
    size = approximate_size(payload)
    exact = sys.getsizeof(payload) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in payload.items())
    assert size == pytest.approx(exact, rel=0.01)
    ring = deque(bytes(1000) for _ in range(50))
    assert approximate_size(ring) == pytest.approx(
        sys.getsizeof(ring) + 50 * sys.getsizeof(bytes(1000)), rel=0.01
    )
    assert approximate_size([]) == sys.getsizeof([])
    nested = [[bytes(100)] * 10 for _ in range(20)]
    expected = sys.getsizeof(nested) + 20 * (sys.getsizeof(nested[0]) + 10 * sys.getsizeof(bytes(100)))
    assert approximate_size(nested) == pytest.approx(expected, rel=0.01)


def test_container_census_keeps_the_largest_components():
    module = fake_module("big.app", small=[1], large=list(range(10_000)), medium=list(range(100)))
    census = container_census([module], max_components=2).measures
    assert list(census) == ["big.app.large", "big.app.medium"]
    assert census["big.app.large"].count == 10_000


def test_type_census_counts_tracked_objects_by_type():
    class Marker:
        pass

    Marker.__qualname__ = "MarkerForCensus"
    keep = [Marker() for _ in range(5000)]
    measures, total = type_census(max_types=10_000)
    name = f"{__name__}.MarkerForCensus"
    assert measures[name].count == 5000
    assert measures[name].size_bytes == pytest.approx(5000 * sys.getsizeof(keep[0]), rel=0.05)
    assert total >= 5000


def test_census_taker_uses_injected_clocks_and_sources():
    module = fake_module("inj.app", data=[1, 2, 3])
    census = CensusTaker(
        modules=lambda: [module],
        rss=lambda: 4242,
        with_types=False,
        clock=lambda: 7.0,
        wall_clock=lambda: 99.0,
    )()
    assert census.components == {"inj.app.data": Measure(3, approximate_size(module.data))}
    assert (census.timestamp, census.monotonic, census.rss_bytes, census.types) == (99.0, 7.0, 4242, {})


def test_application_files_exclude_stdlib_and_site_packages():
    assert is_application_file(__file__)
    assert not is_application_file(types.__file__)
    assert not is_application_file(pytest.__file__)
    assert not is_application_file("<frozen abc>")
    import tests.leaky_app  # noqa: F401

    names = {m.__name__ for m in naming.application_modules()}
    assert "tests.leaky_app" in names
    assert not any(name.startswith("profiling") or name.startswith("django") for name in names)


def outer_function():
    def inner():
        return [0] * 10  # inner line

    return inner


class Holder:
    def method(self):
        return bytearray(10)  # method line


def test_code_locator_names_the_enclosing_function():
    locator = CodeLocator()
    inner_line = outer_function.__code__.co_consts[1].co_firstlineno + 1
    assert locator.name(__file__, inner_line) == f"{__name__}.outer_function.<locals>.inner"
    assert locator.name(__file__, Holder.method.__code__.co_firstlineno + 1) == f"{__name__}.Holder.method"
    assert locator.name(__file__, 1) == __name__
    assert locator.name("/nowhere/x.py", 3) == "/nowhere/x.py"


def test_type_census_names_a_class_whose_module_is_a_property_stably():
    class HidesModule:
        __module__ = property(lambda self: "per-instance")  # e.g. proxies that fake their module

        def method(self):
            return self

    HidesModule.__qualname__ = "HidesModuleForCensus"
    keep = [HidesModule() for _ in range(3000)]
    first, _ = type_census(max_types=10_000)
    second, _ = type_census(max_types=10_000)
    name = f"{__name__}.HidesModuleForCensus"
    assert first[name].count == second[name].count == len(keep)
    assert not [n for n in first if " at 0x" in n]

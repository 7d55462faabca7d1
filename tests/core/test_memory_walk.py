"""The budgeted walk and the leak rules on real containers, checks driven by an injected clock.

A leak two levels below a module global is named by its path; a capped OrderedDict LRU
(whose size estimate jumps when the dict rebuilds its table) and a list cleared every few
seconds are never flagged, at any check; a leak that starts after the service did other
work, or while other threads keep the CPU busy, is named within three checks.
"""

from __future__ import annotations

import threading
import types
from collections import OrderedDict

import pytest

from profiling.core.config import MIB
from profiling.core.memory.census import CensusTaker, container_census
from profiling.core.memory.detector import LeakDetector
from profiling.core.memory.walk import ELEMENTS_WALKED, walk_containers

T0 = 1_800_000_000.0
INTERVAL = 2.0


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"/srv/app/{name.replace('.', '/')}.py"
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def app_class(module: types.ModuleType, name: str, **namespace) -> type:
    cls = type(name, (), {"__module__": module.__name__, **namespace})
    setattr(module, name, cls)
    return cls


def detector_for(*modules, clock: Clock, with_types: bool = False) -> LeakDetector:
    census = CensusTaker(
        modules=lambda: list(modules), with_types=with_types, clock=clock, wall_clock=lambda: T0 + clock.now
    )
    return LeakDetector(census, interval_secs=INTERVAL, wall_clock=lambda: T0 + clock.now)


def named(report: dict) -> set[str]:
    return {leak["component"] for leak in report["potential_leaks"]}


# -- the walk ---------------------------------------------------------------------------


def store_module():
    """myapp.store: a module-global list holding an instance whose dict grows."""
    module = fake_module("myapp.store")

    def init(self):
        self.entries = {}
        self.name = "main"

    store_class = app_class(module, "Store", __init__=init)
    module._registry = [store_class()]
    return module


def test_walk_names_a_dict_inside_an_instance_held_in_a_module_global_list():
    module = store_module()
    walk = walk_containers([module])
    assert [name for name, _ in walk.containers] == [
        "myapp.store._registry",
        "myapp.store._registry[0].entries",
    ]
    assert walk.containers[1][1] is module._registry[0].entries
    assert walk.visited == 4  # the list, the instance, its dict and its name
    assert not walk.truncated


def test_walk_follows_dict_values_by_key_instances_and_slots_and_stops_at_depth():
    module = fake_module("deep.app")
    holder = app_class(module, "Holder", __slots__=("items",))
    outer = holder()
    outer.items = {"users": [{"alice": []}], (1, 2): [1], "x" * 50: [2]}
    module._root = outer
    names = [name for name, _ in walk_containers([module]).containers]
    assert names == [
        "deep.app._root.items",
        "deep.app._root.items['users']",
        "deep.app._root.items['users'][0]",
        "deep.app._root.items['users'][0]['alice']",
    ]  # keys without a short stable label are not walked
    shallow = [name for name, _ in walk_containers([module], max_depth=2).containers]
    assert shallow == names[:2]  # two steps from the global at most


def test_walk_is_budgeted_and_says_when_it_stopped():
    module = fake_module("wide.app", **{f"table_{i}": [[i] for _ in range(20)] for i in range(10)})
    walk = walk_containers([module], max_visits=25)
    assert walk.visited == 25 and walk.truncated
    assert len(walk.containers) == 25
    full = walk_containers([module])
    assert full.visited == 10 + 2 * 10 * ELEMENTS_WALKED and not full.truncated  # tables, lists, ints


def test_walk_visits_each_object_once_under_its_shortest_path():
    shared = {"k": [1]}
    module = fake_module("dup.app", first=[shared], second=shared)
    names = [name for name, _ in walk_containers([module]).containers]
    assert names == ["dup.app.first", "dup.app.second", "dup.app.second['k']"]


def test_census_counts_containers_whose_len_fails_instead_of_dropping_them():
    class Broken(list):
        def __len__(self):
            raise RuntimeError("no length")

    module = fake_module("odd.app", broken=Broken(), fine=[1, 2])
    components = container_census([module])
    assert list(components.measures) == ["odd.app.fine"]
    assert components.skipped == 1
    census = CensusTaker(modules=lambda: [module], with_types=False)()
    assert census.components_skipped == 1
    assert census.objects_walked == 4 and not census.walk_truncated  # two lists, two ints


# -- a leak one level deeper than a module global ---------------------------------------


def test_a_dict_in_an_instance_in_a_module_global_list_growing_per_request_is_named():
    module = store_module()
    store = module._registry[0]
    clock = Clock()
    detector = detector_for(module, clock=clock)
    requests = 0

    def serve(count: int) -> None:
        nonlocal requests
        for _ in range(count):
            requests += 1
            store.entries[requests] = bytes(3300)  # ~3.3 KB a request, kept for ever

    serve(50)
    detector.check()
    serve(30)
    clock.now += INTERVAL
    detector.check()
    serve(30)
    clock.now += INTERVAL
    report = detector.detect()  # the third check
    assert report["highest_risk_component"] == "myapp.store._registry[0].entries"
    leak = report["potential_leaks"][0]
    planted = 30 * (28 + 3333) / INTERVAL * 3600 / MIB  # keys and values added per second
    assert leak["growth_rate_mb_per_hour"] == pytest.approx(planted, rel=0.1)
    assert leak["allocation_count"] == 110
    assert named(report) == {"myapp.store._registry[0].entries"}


# -- what is never a leak ---------------------------------------------------------------


def test_a_capped_ordered_dict_lru_is_never_flagged_even_when_its_table_is_rebuilt():
    lru: OrderedDict = OrderedDict()
    module = fake_module("myapp.cache", _lru=lru)
    keys = iter(range(10**9))

    def use(misses: int) -> None:
        for _ in range(misses):
            lru[next(keys)] = bytes(100)
            while len(lru) > 1000:
                lru.popitem(last=False)

    use(1000)
    clock = Clock()
    detector = detector_for(module, clock=clock)
    detector.check()
    # misses per interval: the table is rebuilt (its size jumps) between the 2nd and 3rd check
    for misses in (10, 400, 20, 30, 1500, 10, 10, 700):
        use(misses)
        clock.now += INTERVAL
        report = detector.detect()
        assert "myapp.cache._lru" not in named(report), report["checks_analyzed"]
    measured = [c.components["myapp.cache._lru"].size_bytes for c in detector.history()]
    assert max(measured[i + 1] - measured[i] for i in range(len(measured) - 1)) > 40_000  # the jump
    assert {c.components["myapp.cache._lru"].count for c in detector.history()} == {1000}


def fill_cycle_checks(period: float, check_times: list[float], rate: int = 50):
    """A list filled with `rate` items a second and cleared every `period` seconds, checked at those times."""
    batch: list = []
    module = fake_module("myapp.batch", _pending=batch)
    clock = Clock()
    detector = detector_for(module, clock=clock)
    reports = []
    last_clear = 0.0
    for i, t in enumerate(check_times):
        cleared_at = (t // period) * period
        if cleared_at > last_clear:
            batch.clear()
            last_clear = cleared_at
            batch.extend(bytes(2000) for _ in range(int(rate * (t - cleared_at))))
        else:
            batch.extend(bytes(2000) for _ in range(int(rate * (t - cleared_at)) - len(batch)))
        clock.now = t
        if i == 0:
            detector.check()
        else:
            reports.append(detector.detect())
    return reports


def check_times(start: float) -> list[float]:
    """21 checks 2 s apart, every third one late (as a POST lands anywhere), from `start`."""
    return [start + INTERVAL * k + (0.9 if k % 3 == 2 else 0.0) for k in range(21)]


@pytest.mark.parametrize("period", [1.5, 3.5])
@pytest.mark.parametrize("phase", [0.001, 0.5, 0.999])
def test_a_list_cleared_every_few_seconds_is_never_flagged_late_in_its_fill_cycle(period, phase):
    reports = fill_cycle_checks(period, check_times(period * (1 + phase)))
    assert len(reports) == 20
    assert [r["checks_analyzed"] for r in reports if "myapp.batch._pending" in named(r)] == []


@pytest.mark.parametrize("phase", [0.001, 0.5, 0.999])
def test_a_list_cleared_less_often_than_two_checks_is_never_flagged_once_a_cycle_was_seen(phase):
    # Before a whole fill cycle was seen such a list cannot be told from a leak; from its
    # second clear on it is never flagged, however late in a cycle a check lands.
    period = 9.0
    times = check_times(period * (1 + phase))
    reports = fill_cycle_checks(period, times)
    cycle = [int(t // period) for t in times]
    second_clear = next(i for i, c in enumerate(cycle) if c == cycle[0] + 2)
    after = reports[second_clear - 1 :]  # reports[i] is the analysis at check i + 1
    assert len(after) >= 12
    assert [r["checks_analyzed"] for r in after if "myapp.batch._pending" in named(r)] == []


# -- a leak after other work, and on a busy machine -------------------------------------


def test_a_leak_that_starts_after_other_work_is_named_within_three_checks():
    store: dict = {}
    buffers: list = []
    module = fake_module("myapp.work", _store=store, _buffers=buffers)
    clock = Clock()
    detector = detector_for(module, clock=clock)
    detector.check()
    for round_ in range(30):  # a minute of other work: big blocks allocated and let go
        buffers.clear()
        buffers.extend(bytearray(256 * 1024) for _ in range(1 + round_ % 4))
        clock.now += INTERVAL
        detector.check()
    buffers.clear()
    first = len(store)
    for check in range(2):  # from now on: 16 entries of 64 KiB a second (1 MiB/s)
        for i in range(int(16 * INTERVAL)):
            store[first + check * 100 + i] = bytes(64 * 1024)
        clock.now += INTERVAL
        report = detector.detect()
    assert report["highest_risk_component"] == "myapp.work._store"
    leak = report["potential_leaks"][0]
    assert leak["checks_fitted"] == 3
    assert leak["growth_rate_mb_per_hour"] == pytest.approx(3600, rel=0.05)  # 1 MiB/s
    assert named(report) == {"myapp.work._store"}


def burn(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(2000))


def test_a_leak_is_named_within_three_checks_while_two_threads_keep_the_cpu_busy():
    store: dict = {}
    module = fake_module("myapp.busy", _store=store, _table={i: bytes(4096) for i in range(200)})
    clock = Clock()
    detector = detector_for(module, clock=clock, with_types=True)
    stop = threading.Event()
    burners = [threading.Thread(target=burn, args=(stop,), name=f"test-burner-{i}") for i in range(2)]
    begun = threading.Event()

    def leak(count: int) -> None:
        for i in range(count):
            store[len(store)] = bytes(64 * 1024)
            if i == 7:
                begun.set()  # the rest is added while the census runs

    for burner in burners:
        burner.start()
    try:
        detector.check()
        for _ in range(2):
            begun.clear()
            leaker = threading.Thread(target=leak, args=(32,), name="test-leaker")
            leaker.start()
            assert begun.wait(30)
            clock.now += INTERVAL
            report = detector.detect()
            leaker.join(30)
    finally:
        stop.set()
        for burner in burners:
            burner.join(10)
    assert report["checks_analyzed"] == 3
    assert report["highest_risk_component"] == "myapp.busy._store"
    assert report["potential_leaks"][0]["severity"] == "critical"
    assert named(report) == {"myapp.busy._store"}


def test_walk_never_evaluates_a_lazy_proxy_it_meets():
    evaluated = []

    class LazyProxy:  # like Django's LazyObject: isinstance() asks its __class__ property
        @property
        def __class__(self):
            evaluated.append(True)
            return dict

    module = fake_module("lazy.app", proxy=LazyProxy())
    holder = app_class(module, "Holder")
    module.holder = holder()
    module.holder.inner = [LazyProxy()]
    names = [name for name, _ in walk_containers([module]).containers]
    assert names == ["lazy.app.holder.inner"]
    assert evaluated == []

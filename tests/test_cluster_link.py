"""The cross-instance link against a real Redis: publish, relay, registry, requests, failures.

Two runtimes in this process stand for two instances (each link has its own thread, loop
and connections, exactly as in two processes); tests/test_cluster_servers.py does the
same with two real Daphne processes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import contextmanager

import pytest
import redis

from profiling.cluster import link as link_module
from profiling.cluster.link import ClusterLink
from profiling.cluster.registry import PREFIX, InstanceRegistry, record_ttl
from profiling.core.errors import (
    ClusterUnavailableError,
    InstanceUnreachableError,
    InvalidParameterError,
    NotFoundError,
    ProfilingNotRunningError,
)
from tests.conftest import make_runtime
from tests.multi import fresh_redis

WAIT_SECS = 10.0


class Inbox:
    """What a link delivered to its (would-be) feed."""

    def __init__(self):
        self.messages: list[dict] = []
        self.changed = threading.Condition()

    def __call__(self, text: str, message: dict) -> None:
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float = WAIT_SECS) -> list[dict]:
        with self.changed:
            assert self.changed.wait_for(lambda: [m for m in self.messages if predicate(m)], timeout), (
                f"nothing matching arrived in {timeout} s; got {[m.get('type') for m in self.messages]}"
            )
            return [m for m in self.messages if predicate(m)]


@pytest.fixture
def redis_url():
    with fresh_redis() as url:
        yield url


@contextmanager
def instance(name: str, url: str, *, timeout: float = 5.0, interval: float = 0.05):
    """A started runtime named `name` with a running link; both stopped afterwards."""
    runtime = make_runtime(memory_interval_secs=interval)
    runtime.ensure_running()
    runtime.instance = name
    inbox = Inbox()
    link = ClusterLink(
        runtime,
        redis_url=url,
        layer_config={"hosts": [url], "capacity": 200, "expiry": 30},
        timeout_secs=timeout,
        deliver=inbox,
    )
    runtime.workers["cluster"] = link  # stopped with the runtime, found by link_of()
    link.start()
    try:
        assert link.wait_ready(WAIT_SECS), "the link did not come up"
        yield runtime, link, inbox
    finally:
        runtime.stop()


def wait_until(predicate, timeout: float = WAIT_SECS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"condition not met in {timeout} s")


def test_each_instance_receives_the_others_samples_and_events_but_not_its_own(redis_url):
    with (
        instance("node-a:1", redis_url) as (a, link_a, inbox_a),
        instance("node-b:2", redis_url) as (b, _, inbox_b),
    ):
        from_b = inbox_a.wait_for(lambda m: m["type"] == "sample" and m["instance"] == "node-b:2")
        inbox_b.wait_for(lambda m: m["type"] == "sample" and m["instance"] == "node-a:1")
        assert set(from_b[0]) == {"type", "instance", "timestamp", "memory", "cpu"}
        assert from_b[0]["memory"]["rss_mb"] > 0
        b.publish_event({"type": "alert", "instance": b.instance, "threshold_status": "warning"})
        alert = inbox_a.wait_for(lambda m: m["type"] == "alert")
        assert alert[0]["instance"] == "node-b:2"
        assert not [m for m in inbox_a.messages if m["instance"] == "node-a:1"]
        # B's recent samples are kept for the feed's history message.
        history = link_a.remote_history()
        assert history and {m["instance"] for m in history} == {"node-b:2"}


def test_registry_lists_live_instances_with_expiring_latest_samples(redis_url):
    client = redis.Redis.from_url(redis_url)
    with instance("node-a:1", redis_url) as (_, link_a, _), instance("node-b:2", redis_url, interval=0.5):
        records = wait_until(lambda: len(link_a.instances()) == 2 and link_a.instances())
        assert {r["instance"] for r in records} == {"node-a:1", "node-b:2"}
        record_b = link_a.latest("node-b:2")
        assert record_b["channel"].startswith("riptide.instance.")
        assert record_b["interval_secs"] == 0.5
        assert record_b["sample"]["instance"] == "node-b:2"
        ttl_ms = client.pttl(f"{PREFIX}instance:node-b:2")
        assert 0 < ttl_ms <= record_ttl(0.5) * 1000
        assert link_a.latest("node-c:3") is None
    # A clean stop leaves the registry at once (no wait for the expiry).
    assert client.zcard(f"{PREFIX}instances") == 0
    client.close()


def test_registry_drops_an_instance_whose_record_expired(redis_url):
    async def scenario():
        client = redis.asyncio.Redis.from_url(redis_url)
        registry = InstanceRegistry(client)
        now = time.time()
        await registry.publish({"instance": "gone:1", "unix_time": now - 60}, ttl_secs=0.05)
        await registry.publish({"instance": "live:2", "unix_time": now}, ttl_secs=30)
        await asyncio.sleep(0.2)  # the real Redis expiry of the first record
        live = await registry.live()
        remaining = await client.zrange(f"{PREFIX}instances", 0, -1)
        await client.aclose()
        return live, remaining

    live, remaining = asyncio.run(scenario())
    assert [r["instance"] for r in live] == ["live:2"]
    assert remaining == [b"live:2"]


def test_a_request_for_another_instance_is_answered_by_that_instance(redis_url):
    with instance("node-a:1", redis_url) as (_, link_a, _), instance("node-b:2", redis_url) as (b, link_b, _):
        wait_until(lambda: link_a.latest("node-b:2"))
        report = link_a.call("node-b:2", "leak_detection")
        assert report["instance"] == "node-b:2"
        assert report["checks_analyzed"] >= 1
        # B's own analysis now holds that report: the work ran in B.
        from profiling.core.memory.service import memory_analysis

        assert memory_analysis(b).leaks.latest()["timestamp"] == report["timestamp"]
        wait_until(lambda: link_b.answered == 1)


def test_another_instances_errors_come_back_as_the_same_errors(redis_url):
    with instance("node-a:1", redis_url) as (_, link_a, _), instance("node-b:2", redis_url):
        wait_until(lambda: link_a.latest("node-b:2"))
        with pytest.raises(NotFoundError, match="No leak analysis has run yet"):
            link_a.call("node-b:2", "leak_report")
        with pytest.raises(ProfilingNotRunningError, match="stack sampler is not running"):
            link_a.call("node-b:2", "bottlenecks", {"window": 5})
        with pytest.raises(InvalidParameterError, match="Unknown operation"):
            link_a.call("node-b:2", "format_disk")
        with pytest.raises(NotFoundError, match="No live instance 'node-z:9'"):
            link_a.call("node-z:9", "leak_detection")


def test_an_instance_that_does_not_answer_times_out(redis_url):
    async def register_silent_instance():
        client = redis.asyncio.Redis.from_url(redis_url)
        record = {"instance": "silent:3", "channel": "riptide.instance.nobody", "unix_time": time.time()}
        await InstanceRegistry(client).publish(record, ttl_secs=30)
        await client.aclose()

    asyncio.run(register_silent_instance())
    with instance("node-a:1", redis_url, timeout=0.5) as (_, link_a, _):
        started = time.monotonic()
        with pytest.raises(InstanceUnreachableError, match=r"silent:3 did not answer within 0.5 s"):
            link_a.call("silent:3", "snapshot")
        assert 0.5 <= time.monotonic() - started < 3


def test_without_redis_the_link_logs_once_and_the_profiler_goes_on(caplog):
    caplog.set_level(logging.WARNING, logger="profiling.cluster.link")
    closed_port = "redis://127.0.0.1:1/0"
    with instance("node-a:1", closed_port, timeout=0.5) as (runtime, link, _):
        wait_until(lambda: link.error_count >= 5)
        samples_before = len(runtime.system_sampler.history())
        wait_until(lambda: len(runtime.system_sampler.history()) > samples_before)
        with pytest.raises(ClusterUnavailableError):
            link.instances()
    warnings = [r for r in caplog.records if "cross-instance link" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


def test_remote_history_is_bounded_in_instances_and_samples(redis_url, monkeypatch):
    now = [1000.0]
    link = ClusterLink(
        make_runtime(), redis_url=redis_url, layer_config={"hosts": [redis_url]}, wall_clock=lambda: now[0]
    )
    monkeypatch.setattr(link_module, "MAX_REMOTE_INSTANCES", 3)
    for i in range(5):
        for j in range(link_module.REMOTE_HISTORY_SAMPLES + 10):
            link._remember(f"node-{i}:1", {"type": "sample", "instance": f"node-{i}:1", "n": j})
    history = link.remote_history()
    assert {m["instance"] for m in history} == {"node-2:1", "node-3:1", "node-4:1"}
    assert len(history) == 3 * link_module.REMOTE_HISTORY_SAMPLES
    now[0] += link_module.REMOTE_HISTORY_MAX_AGE_SECS + 1
    assert link.remote_history() == []


def test_a_forked_child_forgets_the_parents_link(redis_url):
    runtime = make_runtime()
    link = ClusterLink(runtime, redis_url=redis_url, layer_config={"hosts": [redis_url]})
    runtime.add_sample_listener(link._on_sample)
    runtime.add_event_listener(link._on_event)
    link.forget_thread()
    assert link._on_sample not in runtime._listeners
    assert link._on_event not in runtime._event_listeners
    assert not link.running


def test_a_forked_worker_process_starts_its_own_link_and_publishes_itself(redis_url):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        **__import__("os").environ,
        "DJANGO_SETTINGS_MODULE": "riptide_dashboard.settings",
        "REDIS_URL": redis_url,
        "PROFILING_MEMORY_INTERVAL_SECS": "0.1",
        "PYTHONPATH": str(root),
    }
    done = subprocess.run(
        [sys.executable, "tests/fork_cluster.py"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["child"].endswith(f":{report['child_pid']}") and report["child"] != report["parent"]
    assert report["ready"] and report["new_channel"]
    assert report["seen"] == sorted([report["parent"], report["child"]])


def test_a_request_its_asker_stopped_waiting_for_is_dropped_not_run_late(redis_url):
    from profiling.core.memory.service import memory_analysis

    with instance("node-a:1", redis_url) as (_, link_a, _), instance("node-b:2", redis_url) as (b, link_b, _):
        record = wait_until(lambda: link_a.latest("node-b:2"))
        stale = {
            "type": "riptide.request",
            "id": "stale-request",
            "op": "leak_detection",
            "args": {},
            "reply_to": link_a.channel,
            "expires_at": time.time() - 60,  # e.g. waited in the channel of a stopped process
        }
        asyncio.run_coroutine_threadsafe(link_a.layer.send(record["channel"], stale), link_a.loop).result(5)
        wait_until(lambda: link_b.expired == 1)
        assert link_b.answered == 0
        assert memory_analysis(b).leaks.latest() is None  # the analysis never ran
        assert link_a.call("node-b:2", "leak_detection")["instance"] == "node-b:2"  # a live one does

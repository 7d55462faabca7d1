"""The live feed's and the cross-instance link's counters on /metrics, value for value."""

from __future__ import annotations

import asyncio
import types

import pytest
from prometheus_client.parser import text_string_to_metric_families

from profiling import feed as feed_module
from profiling import metrics

FEED_COUNTERS = (
    "riptide_feed_messages_sent",
    "riptide_feed_messages_dropped",
    "riptide_feed_clients_stalled",
)
LINK_COUNTERS = (
    "riptide_cluster_messages_published",
    "riptide_cluster_messages_received",
    "riptide_cluster_messages_dropped",
)


class Client:
    """A subscriber that never reads, with room for `size` messages."""

    def __init__(self, size: int):
        self.queue = asyncio.Queue(maxsize=size)
        self.stalled_calls = 0

    def offer(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def stalled(self) -> None:
        self.stalled_calls += 1


def counters(runtime) -> dict[str, float]:
    text, _ = metrics.exposition(runtime, "text/plain")
    return {
        sample.name.removesuffix("_total"): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name.endswith("_total")
        and sample.name.removesuffix("_total") in FEED_COUNTERS + LINK_COUNTERS
    }


@pytest.fixture
def no_feed(monkeypatch):
    monkeypatch.setattr(feed_module, "_feed", None)


def test_without_a_feed_or_a_link_every_counter_is_zero(profiler, no_feed):
    assert counters(profiler) == dict.fromkeys(FEED_COUNTERS + LINK_COUNTERS, 0.0)


async def test_feed_counters_count_sent_dropped_and_stalled_clients(profiler, no_feed):
    feed = feed_module.feed_for(profiler)
    try:
        feed.max_consecutive_drops = 2
        fast, slow = Client(16), Client(1)
        feed.subscribe(fast)
        feed.subscribe(slow)
        for text in ("a", "b", "c", "d"):
            feed.fan_out(text)
        # fast: 4 sent; slow: "a" sent, "b" and "c" dropped, then disconnected ("d" not offered).
        assert slow.stalled_calls == 1
        assert counters(profiler) == {
            "riptide_feed_messages_sent": 5.0,
            "riptide_feed_messages_dropped": 2.0,
            "riptide_feed_clients_stalled": 1.0,
            **dict.fromkeys(LINK_COUNTERS, 0.0),
        }
    finally:
        feed.close()
        feed_module._feed = None


def test_link_counters_are_the_links_own(profiler, no_feed, monkeypatch):
    link = types.SimpleNamespace(published=7, received=11, dropped=3)
    monkeypatch.setattr(metrics, "link_of", lambda runtime: link if runtime is profiler else None)
    assert counters(profiler) == {
        **dict.fromkeys(FEED_COUNTERS, 0.0),
        "riptide_cluster_messages_published": 7.0,
        "riptide_cluster_messages_received": 11.0,
        "riptide_cluster_messages_dropped": 3.0,
    }

"""The demo workload: a crawler whose parser is the hotspot and whose cache leaks."""

from __future__ import annotations

import threading

import pytest

import demo
from demo import cache
from demo.html import parse_document
from demo.spider import SUMMARY_CHARS, crawl, fetch


def test_parse_document_finds_title_links_and_words():
    page = "<html><head><title> Hello page </title></head><body><p>one two</p><a href='/next'>x</a></body></html>"
    assert parse_document(page) == {"title": "Hello page", "links": ["/next"], "words": 5}


def test_fetch_is_deterministic_per_url():
    assert fetch("https://example.test/a") == fetch("https://example.test/a")
    assert fetch("https://example.test/a") != fetch("https://example.test/b")


def test_crawl_caches_each_page_forever_and_queues_links(monkeypatch):
    monkeypatch.setattr(cache, "_entries", {})
    frontier: list[str] = []
    for n in range(3):
        crawl(f"https://example.test/{n}", frontier)
    assert cache.size() == 3
    assert all(len(summary) == SUMMARY_CHARS for summary in cache._entries.values())
    assert len(frontier) == 6


def test_cache_stops_growing_at_its_cap(monkeypatch):
    monkeypatch.setattr(cache, "_entries", {})
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    for n in range(4):
        cache.insert(str(n), "x")
    assert cache.size() == 2


@pytest.fixture
def stopped_demo():
    yield
    demo.stop_workload()
    for thread in threading.enumerate():
        if thread.name == "demo-spider":
            thread.join(5)


def test_start_workload_runs_one_named_thread(stopped_demo, monkeypatch):
    monkeypatch.setattr(cache, "_entries", {})
    demo.start_workload()
    demo.start_workload()  # idempotent in one process
    spiders = [t for t in threading.enumerate() if t.name == "demo-spider" and t.is_alive()]
    assert len(spiders) == 1

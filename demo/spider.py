"""The demo crawler: fetch (a wait stands in for the network), parse, cache, follow links."""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from demo import cache
from demo.html import parse_document

logger = logging.getLogger(__name__)

PAGES_PER_SECOND = 5
# Kept per page in the cache: 5 pages/s x ~5 KB = ~1.5 MB a minute of leak.
SUMMARY_CHARS = 5000
PARAGRAPHS = 1000


def fetch(url: str) -> str:
    """Return the page at `url`: generated from its hash, after a network-like wait."""
    time.sleep(0.03)
    digest = hashlib.sha256(url.encode()).hexdigest()
    words = " ".join(digest[i : i + 6] for i in range(0, 60, 6))
    body = "".join(
        f"<p>{words} paragraph {n} of <b>{url}</b> <a href='{url}/{digest[n % 40 : n % 40 + 6]}'>next</a></p>"
        for n in range(PARAGRAPHS)
    )
    return f"<html><head><title>Page {url}</title></head><body>{body}</body></html>"


def crawl(url: str, frontier: list[str]) -> dict:
    """Fetch and parse one page, cache its summary and queue its links."""
    document = parse_document(fetch(url))
    summary = (document["title"] + " " + " ".join(document["links"])) * 4
    cache.insert(url, summary[:SUMMARY_CHARS].ljust(SUMMARY_CHARS, "."))
    frontier.extend(document["links"][:2])
    del frontier[:-1000]
    return document


def crawl_forever(stop: threading.Event) -> None:
    frontier = ["https://example.test/"]
    period = 1.0 / PAGES_PER_SECOND
    next_due = time.monotonic()
    count = 0
    while not stop.is_set():
        url = frontier.pop(0) if frontier else f"https://example.test/{count}"
        try:
            crawl(f"{url}#{count}", frontier)
        except Exception:
            logger.warning("demo crawl failed", exc_info=True)
        count += 1
        next_due += period
        delay = next_due - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_due = time.monotonic()

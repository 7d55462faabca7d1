"""A synthetic crawler that runs inside the server for `make demo` (RIPTIDE_DEMO=true).

It looks like the seed document's service: `demo.spider.crawl` fetches pages (a short
wait stands in for the network), `demo.html.parse_document` parses them (the CPU
hotspot) and `demo.cache` keeps a summary of each page forever (the slow leak,
about 1.5 MB a minute). Its threads are named "demo-*" so the profiler samples them.
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_started_in: int | None = None
_stop = threading.Event()


def start_workload() -> None:
    """Start the crawler thread in this process unless it already runs here."""
    global _started_in, _stop
    with _lock:
        if _started_in == os.getpid():
            return
        from demo.spider import crawl_forever

        _stop = threading.Event()
        threading.Thread(target=crawl_forever, args=(_stop,), name="demo-spider", daemon=True).start()
        _started_in = os.getpid()
    logger.warning(
        "demo workload started: a synthetic crawler with a slowly leaking cache (RIPTIDE_DEMO=true)"
    )


def stop_workload() -> None:
    global _started_in
    with _lock:
        _stop.set()
        _started_in = None

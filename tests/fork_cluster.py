"""Run by tests/test_cluster_link.py: a profiler with its link, forked; the child reports.

The child's runtime starts its own workers, its own link included (a new channel, a new
instance name), and the child sees both itself and its parent in the instance registry.
"""

from __future__ import annotations

import json
import os
import sys
import time

import django

django.setup()

from profiling.cluster import link_of  # noqa: E402
from profiling.conf import runtime  # noqa: E402


def main() -> None:
    profiler = runtime()
    profiler.ensure_running()
    parent_link = link_of(profiler)
    assert parent_link is not None and parent_link.wait_ready(10), "no link in the parent"
    parent = profiler.instance
    pid = os.fork()
    if pid == 0:
        try:
            profiler.ensure_running()
            link = link_of(profiler)
            ready = link is not None and link is not parent_link and link.wait_ready(10)
            seen: set[str] = set()
            deadline = time.monotonic() + 15
            while ready and time.monotonic() < deadline and len(seen) < 2:
                seen = {record["instance"] for record in link.instances()}
                time.sleep(0.1)
            print(
                json.dumps(
                    {
                        "parent": parent,
                        "child": profiler.instance,
                        "child_pid": os.getpid(),
                        "ready": ready,
                        "new_channel": ready and link.channel != parent_link.channel,
                        "seen": sorted(seen),
                    }
                ),
                flush=True,
            )
            profiler.stop()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    profiler.stop()


if __name__ == "__main__":
    sys.exit(main())

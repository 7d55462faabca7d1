"""Workloads with known names, files and lines for the stack profiler's tests."""

from __future__ import annotations

import queue
import threading
import time


def burn_cpu(stop: threading.Event) -> int:
    """Spin in pure Python until told to stop."""
    total = 0
    while not stop.is_set():
        for i in range(5000):
            total += i * i
    return total


def nap(stop: threading.Event) -> None:
    """Sleep in small steps until told to stop."""
    while not stop.is_set():
        time.sleep(0.05)


def wait_on_queue(jobs: queue.Queue) -> None:
    """Block on a queue until an item arrives."""
    jobs.get()


def churn_garbage(stop: threading.Event) -> int:
    """Make cyclic garbage beside many live containers, so collections are frequent and slow."""
    live = [[i] for i in range(200_000)]
    rounds = 0
    while not stop.is_set():
        for _ in range(1000):
            cycle: list = []
            cycle.append(cycle)
        rounds += 1
    return rounds + len(live)


class Workers:
    """Start workload threads and stop and join all of them, whatever happens."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.jobs: queue.Queue = queue.Queue()
        self.threads: list[threading.Thread] = []

    def start(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=f"workload-{target.__name__}", daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def close(self) -> None:
        self.stop.set()
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join(10)

"""Per-thread clocks and system calls of real threads, in a forked child too."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

from profiling.core.stacks.threadcpu import ThreadCpuClock, ThreadSyscalls


def spin_until(stop: threading.Event) -> int:
    total = 0
    while not stop.is_set():
        for i in range(2000):
            total += i * i
    return total


def _in_forked_child(measure) -> dict:
    """Run `measure()` in a forked child while its main thread burns CPU; its dict comes back by a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            result: dict = {"parent_native_id": PARENT_NATIVE_ID}
            stop = threading.Event()

            def run():
                try:
                    result.update(measure())
                except Exception as exc:  # reported to the parent, which fails the test
                    result["error"] = repr(exc)
                finally:
                    stop.set()

            helper = threading.Thread(target=run, name="measure")
            helper.start()
            spin_until(stop)
            helper.join()
            os.write(write_end, json.dumps(result).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(b"".join(chunks))


PARENT_NATIVE_ID = threading.main_thread().native_id


def _measure_main_thread() -> dict:
    from profiling.core.stacks.sampler import StackSampler

    main = threading.main_thread()
    clock = ThreadCpuClock()
    sampler = StackSampler(100)
    sampler.sample(time.monotonic())
    first = clock.read(main.ident)
    time.sleep(0.3)
    sampler.sample(time.monotonic())
    totals = sampler.store.window(sampler.now(), 10)
    spins = [
        stats.samples
        for stack, stats in totals.stacks.items()
        if sampler.labeler.label(stack[-1]).function_name.endswith("spin_until")
    ]
    return {
        "main_native_id": main.native_id,
        "pid": os.getpid(),
        "cpu_secs": clock.read(main.ident) - first if first is not None else None,
        "busy": totals.busy_samples,
        "unmeasured": totals.unmeasured_samples,
        "spin_samples": sum(spins),
    }


def test_forked_child_main_thread_has_its_own_native_id_and_is_measured():
    result = _in_forked_child(_measure_main_thread)
    assert "error" not in result, result
    assert result["parent_native_id"] != result["pid"]
    assert result["main_native_id"] == result["pid"]  # CPython 3.11 alone would keep the parent's
    assert result["cpu_secs"] > 0.1
    assert (result["busy"], result["unmeasured"], result["spin_samples"]) == (1, 0, 1)


def _measure_with_a_stale_native_id() -> dict:
    """A child that imported the clock after the fork: the main thread's id is still the parent's."""
    main = threading.main_thread()
    main._native_id = PARENT_NATIVE_ID  # what CPython 3.11 leaves when no fork hook ran
    clock = ThreadCpuClock()
    first = clock.read(main.ident)
    time.sleep(0.2)
    return {"cpu_secs": clock.read(main.ident) - first if first is not None else None}


def test_forked_child_main_thread_with_a_stale_native_id_is_still_measured():
    result = _in_forked_child(_measure_with_a_stale_native_id)
    assert "error" not in result, result
    assert result["cpu_secs"] is not None and result["cpu_secs"] > 0.05


def test_thread_syscalls_tell_a_gil_or_lock_wait_from_a_socket_wait():
    syscalls = ThreadSyscalls()
    assert syscalls.available  # Linux, where the project runs
    left, right = socket.socketpair()
    lock = threading.Lock()
    lock.acquire()
    on_socket = threading.Thread(target=left.recv, args=(1,))
    on_lock = threading.Thread(target=lock.acquire)
    on_socket.start()
    on_lock.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
            syscalls.wants_cpu(on_lock.ident) and syscalls.wants_cpu(on_socket.ident) is False
        ):
            time.sleep(0.01)
        assert syscalls.wants_cpu(on_socket.ident) is False
        assert syscalls.wants_cpu(on_lock.ident) is True
    finally:
        right.send(b"x")
        lock.release()
        on_socket.join()
        on_lock.join()
        left.close()
        right.close()
    assert syscalls.wants_cpu(on_socket.ident) is None  # ended

"""One process's link to the others through the Redis channel layer (REDIS_URL).

The link is one of the runtime's workers: a daemon thread running its own event loop
with its own channel-layer and Redis connections, so it publishes whether or not anyone
watches this process, never touches the server's loop, and a forked worker process
starts its own. It

- publishes every sample (and every alert, leak report and snapshot event) into the
  group `riptide.live`, tagged with this instance, and writes the sample into the
  instance registry (registry.py) with an expiry;
- receives the group's messages from the other instances on its own channel, keeps their
  recent samples (bounded) for the feed's history and hands each one to this process's
  live feed, which fans it out to the local websocket clients;
- answers requests that other instances send to its channel (leak detection, snapshots,
  bottlenecks, ...) by running the operation on a small thread pool, and sends requests
  of its own (`call`) on behalf of this process's views, with a timeout.

The sampler thread only schedules work on the link's loop (`call_soon_threadsafe` into a
bounded outbox); when Redis is slow or down, samples are dropped and counted, the error is
logged once until the link recovers, and the server goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer

from profiling.cluster import operations
from profiling.cluster.registry import PREFIX as REGISTRY_PREFIX
from profiling.cluster.registry import InstanceRegistry, record_ttl
from profiling.core.errors import (
    ClusterUnavailableError,
    InstanceUnreachableError,
    NotFoundError,
    ProfilingError,
    ProfilingNotRunningError,
)
from profiling.core.runtime import ProfilingRuntime
from profiling.core.samples import Sample
from profiling.core.timefmt import iso_utc

logger = logging.getLogger(__name__)

GROUP = "riptide.live"
FEED_MESSAGE = "riptide.feed"
REQUEST = "riptide.request"
REPLY = "riptide.reply"
# Samples and events waiting to be published; more are dropped (and counted).
OUTBOX_SIZE = 64
# Recent samples kept per other instance, for the feed's history message.
REMOTE_HISTORY_SAMPLES = 120
# Other instances whose recent samples are kept; the least recently heard goes first.
MAX_REMOTE_INSTANCES = 64
# Group membership is renewed this often (channels-redis expires it after a day).
MEMBERSHIP_RENEW_SECS = 600.0
RETRY_SECS = 1.0
# Operations answered for other instances at once; more wait their turn.
ANSWER_THREADS = 2
REGISTRY_TIMEOUT_SECS = 5.0
# A request whose asker stopped waiting this long ago is dropped unanswered, not run late
# (a snapshot nobody waits for); the slack covers clocks of different hosts.
EXPIRY_SLACK_SECS = 2.0
MAX_ARGS_BYTES = 4096

# Instances not heard from for this long are left out of the history.
REMOTE_HISTORY_MAX_AGE_SECS = 600.0

Deliver = Callable[[str, dict], None]


class _Recent:
    __slots__ = ("samples", "heard_at")

    def __init__(self):
        self.samples: deque[dict] = deque(maxlen=REMOTE_HISTORY_SAMPLES)
        self.heard_at = 0.0


def _deliver_nowhere(text: str, message: dict) -> None:
    """The default when nothing local listens for the other instances' messages."""


class ClusterLink:
    """Publish this instance, relay the others, and answer and send requests."""

    thread_name = "riptide-cluster"

    def __init__(
        self,
        runtime: ProfilingRuntime,
        *,
        redis_url: str,
        layer_config: dict,
        key_prefix: str = "",
        timeout_secs: float = 10.0,
        deliver: Deliver = _deliver_nowhere,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.runtime = runtime
        self.redis_url = redis_url
        self.layer_config = dict(layer_config)
        self.registry_prefix = f"{key_prefix}:{REGISTRY_PREFIX}" if key_prefix else REGISTRY_PREFIX
        self.timeout_secs = timeout_secs
        self.deliver = deliver
        self.wall_clock = wall_clock
        self.channel = f"riptide.instance.{secrets.token_hex(8)}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.layer: RedisChannelLayer | None = None
        self.registry: InstanceRegistry | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._outbox: asyncio.Queue | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._remote: OrderedDict[str, _Recent] = OrderedDict()
        self._remote_lock = threading.Lock()
        self._member = False
        self._closing = False
        self._degraded = False
        self._cpu_seconds = 0.0
        self.error_count = 0
        self.published = 0
        self.received = 0
        self.dropped = 0
        self.answered = 0
        self.expired = 0

    @property
    def instance(self) -> str:
        return self.runtime.instance

    # -- the worker lifecycle the runtime expects ----------------------------------------

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and self._ready.is_set()

    @property
    def cpu_seconds(self) -> float:
        return self._cpu_seconds

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        loop, stopping, thread = self.loop, self._stopping, self._thread
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop is closed already
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def forget_thread(self) -> None:
        """In a forked child: the thread and its loop are gone; stop listening to the runtime."""
        self.runtime.remove_sample_listener(self._on_sample)
        self.runtime.remove_event_listener(self._on_event)
        self._thread = None
        self.loop = None
        self._ready = threading.Event()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            self.error_count += 1
            logger.exception("the cross-instance link stopped")
        finally:
            self._ready.clear()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._closing = False
        self._stopping = asyncio.Event()
        self._outbox = asyncio.Queue(OUTBOX_SIZE)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            ANSWER_THREADS, thread_name_prefix="riptide-cluster-answer"
        )
        self.layer = RedisChannelLayer(**self.layer_config)
        client = redis.asyncio.from_url(
            self.redis_url, socket_timeout=REGISTRY_TIMEOUT_SECS, socket_connect_timeout=REGISTRY_TIMEOUT_SECS
        )
        self.registry = InstanceRegistry(client, prefix=self.registry_prefix, wall_clock=self.wall_clock)
        self.runtime.add_sample_listener(self._on_sample)
        self.runtime.add_event_listener(self._on_event)
        tasks = [
            asyncio.create_task(self._membership_loop()),
            asyncio.create_task(self._receive_loop()),
            asyncio.create_task(self._send_loop()),
        ]
        self._ready.set()
        logger.info("cross-instance link of %s up on channel %s", self.instance, self.channel)
        try:
            await self._stopping.wait()
        finally:
            self._ready.clear()
            self._closing = True
            self.runtime.remove_sample_listener(self._on_sample)
            self.runtime.remove_event_listener(self._on_event)
            for task in tasks:
                task.cancel()
            # A cancelled Redis read can surface as a timeout error instead of the
            # cancellation; the loops see `_closing` and end either way.
            await asyncio.wait(tasks, timeout=2)
            for future in self._pending.values():
                future.cancel()
            await self._leave()
            await client.aclose()
            self._executor.shutdown(wait=True, cancel_futures=True)

    async def _leave(self) -> None:
        """Leave the group and the registry so the others see this instance gone at once."""
        try:
            async with asyncio.timeout(2):
                await self.registry.remove(self.instance)
                if self._member:
                    await self.layer.group_discard(GROUP, self.channel)
                await self.layer.close_pools()
        except Exception:
            logger.debug("leaving the cross-instance group failed", exc_info=True)

    async def _membership_loop(self) -> None:
        while not self._closing:
            try:
                await self.layer.group_add(GROUP, self.channel)
                self._member = True
                self._healthy()
                await asyncio.sleep(MEMBERSHIP_RENEW_SECS)
            except Exception as exc:
                if self._closing:
                    return
                self._failed("joining the group", exc)
                await asyncio.sleep(RETRY_SECS)

    async def _receive_loop(self) -> None:
        while not self._closing:
            try:
                message = await self.layer.receive(self.channel)
            except Exception as exc:
                if self._closing:
                    return
                self._failed("receiving", exc)
                await asyncio.sleep(RETRY_SECS)
                continue
            self._healthy()
            try:
                self._dispatch(message)
            except Exception:
                self.error_count += 1
                logger.warning("a cross-instance message could not be handled", exc_info=True)
            self._cpu_seconds = time.thread_time()

    async def _send_loop(self) -> None:
        outbox = self._outbox
        while not self._closing:
            kind, item = await outbox.get()
            try:
                if kind == "sample":
                    await self._publish_sample(item)
                else:
                    await self._group_send(item)
                self._healthy()
            except ProfilingError:
                pass  # the profiler stopped in the meantime
            except Exception as exc:
                self._failed("publishing", exc)
            self._cpu_seconds = time.thread_time()

    # -- health, logged once per outage -------------------------------------------------------

    def _failed(self, what: str, exc: BaseException) -> None:
        self.error_count += 1
        if not self._degraded:
            self._degraded = True
            logger.warning(
                "cross-instance link: %s failed (%s: %s); retrying, logged once until it recovers",
                what,
                type(exc).__name__,
                exc,
            )

    def _healthy(self) -> None:
        if self._degraded:
            self._degraded = False
            logger.info("cross-instance link recovered")

    # -- publishing this instance --------------------------------------------------------------

    def _on_sample(self, sample: Sample) -> None:
        """On the sampler thread: hand the sample to the link's loop, never waiting."""
        self._call_on_loop(self._queue, ("sample", sample))

    def _on_event(self, message: dict) -> None:
        self._call_on_loop(self._queue, ("event", message))

    def _call_on_loop(self, callback, argument) -> None:
        loop = self.loop
        if loop is None or not self._ready.is_set():
            return
        try:
            loop.call_soon_threadsafe(callback, argument)
        except RuntimeError:  # the loop closed: the link is stopping
            pass

    def _queue(self, item: tuple) -> None:
        try:
            self._outbox.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _publish_sample(self, sample: Sample) -> None:
        message = self.runtime.sample_message(sample)
        host, _, pid = self.instance.rpartition(":")
        record = {
            "instance": self.instance,
            "host": host,
            "pid": int(pid) if pid.isdigit() else os.getpid(),
            "channel": self.channel,
            "started_at": iso_utc(self.runtime.started_at) if self.runtime.started_at else None,
            "interval_secs": self.runtime.config.memory_interval_secs,
            "unix_time": sample.timestamp,
            "sample": message,
        }
        await self.registry.publish(record, record_ttl(self.runtime.config.memory_interval_secs))
        await self._group_send(message)

    async def _group_send(self, message: dict) -> None:
        text = json.dumps(message, separators=(",", ":"))
        await self.layer.group_send(GROUP, {"type": FEED_MESSAGE, "instance": self.instance, "text": text})
        self.published += 1

    # -- what arrives ---------------------------------------------------------------------------

    def _dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind == FEED_MESSAGE:
            self._relay(message)
        elif kind == REQUEST:
            asyncio.get_running_loop().create_task(self._answer(message))
        elif kind == REPLY:
            future = self._pending.get(str(message.get("id")))
            if future is not None and not future.done():
                future.set_result(message)

    def _relay(self, message: dict) -> None:
        instance = message.get("instance")
        text = message.get("text")
        if instance == self.instance or not isinstance(text, str):
            return  # this process's own clients already had it from the local feed
        self.received += 1
        parsed = json.loads(text)
        if parsed.get("type") == "sample":
            self._remember(str(instance), parsed)
        self.deliver(text, parsed)

    def _remember(self, instance: str, sample_message: dict) -> None:
        with self._remote_lock:
            recent = self._remote.get(instance)
            if recent is None:
                recent = self._remote[instance] = _Recent()
                while len(self._remote) > MAX_REMOTE_INSTANCES:
                    self._remote.popitem(last=False)
            else:
                self._remote.move_to_end(instance)
            recent.samples.append(sample_message)
            recent.heard_at = self.wall_clock()

    def remote_history(self, max_age_secs: float = REMOTE_HISTORY_MAX_AGE_SECS) -> list[dict]:
        """The recent sample messages of the other instances heard from lately."""
        cutoff = self.wall_clock() - max_age_secs
        with self._remote_lock:
            return [
                message
                for recent in self._remote.values()
                if recent.heard_at >= cutoff
                for message in recent.samples
            ]

    async def _answer(self, request: dict) -> None:
        reply_to, request_id = request.get("reply_to"), request.get("id")
        if not isinstance(reply_to, str) or not isinstance(request_id, str):
            return
        op, args = request.get("op"), request.get("args") or {}
        expires_at = request.get("expires_at")
        if isinstance(expires_at, int | float) and self.wall_clock() > expires_at + EXPIRY_SLACK_SECS:
            self.expired += 1
            logger.info("dropped a %s request that its asker stopped waiting for", op)
            return
        try:
            if not isinstance(args, dict) or len(json.dumps(args)) > MAX_ARGS_BYTES:
                raise ValueError("bad arguments")
            result = await asyncio.get_running_loop().run_in_executor(
                self._executor, operations.run, self.runtime, str(op), args
            )
            reply = {"type": REPLY, "id": request_id, "ok": True, "result": result}
        except Exception as exc:
            if not isinstance(exc, ProfilingError):
                self.error_count += 1
                logger.warning("answering %s for another instance failed", op, exc_info=True)
            reply = {"type": REPLY, "id": request_id, "ok": False, "error": operations.error_to_wire(exc)}
        try:
            await self.layer.send(reply_to, reply)
            self.answered += 1
        except Exception as exc:
            self._failed("answering", exc)

    # -- for this process's views (called from their threads) --------------------------------

    def _submit(self, coroutine: Coroutine, timeout: float) -> Any:
        loop = self.loop
        if loop is None or not self.running:
            coroutine.close()
            raise ProfilingNotRunningError("The cross-instance link is not running in this process.")
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ClusterUnavailableError(
                "The shared channel layer (REDIS_URL) did not answer in time."
            ) from None

    def call(self, instance: str, op: str, args: dict | None = None, timeout: float | None = None) -> dict:
        """Run operation `op` on `instance` and return its answer (or raise its error)."""
        timeout = self.timeout_secs if timeout is None else timeout
        return self._submit(
            self._call(instance, op, dict(args or {}), timeout), timeout + REGISTRY_TIMEOUT_SECS + 1
        )

    def latest(self, instance: str) -> dict | None:
        """The registry record of `instance` (its latest sample), None when it is not live."""
        return self._submit(self._registry(self.registry.get(instance)), REGISTRY_TIMEOUT_SECS + 1)

    def instances(self) -> list[dict]:
        """The registry records of the live instances."""
        return self._submit(self._registry(self.registry.live()), REGISTRY_TIMEOUT_SECS + 1)

    async def _registry(self, coroutine: Coroutine) -> Any:
        try:
            return await coroutine
        except (redis.RedisError, OSError) as exc:
            self._failed("reading the instance registry", exc)
            raise ClusterUnavailableError() from None

    async def _call(self, instance: str, op: str, args: dict, timeout: float) -> dict:
        record = await self._registry(self.registry.get(instance))
        if record is None:
            raise NotFoundError(f"No live instance {instance!r}; GET /api/profiling/instances lists them.")
        request_id = secrets.token_hex(12)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.layer.send(
                record["channel"],
                {
                    "type": REQUEST,
                    "id": request_id,
                    "op": op,
                    "args": args,
                    "reply_to": self.channel,
                    "expires_at": self.wall_clock() + timeout,
                },
            )
            async with asyncio.timeout(timeout):
                reply = await future
        except ChannelFull:
            raise InstanceUnreachableError(f"Instance {instance} is not reading its requests.") from None
        except TimeoutError:
            raise InstanceUnreachableError(
                f"Instance {instance} did not answer within {timeout:g} s."
            ) from None
        except (redis.RedisError, OSError) as exc:
            self._failed("sending a request", exc)
            raise ClusterUnavailableError() from None
        finally:
            self._pending.pop(request_id, None)
        if reply.get("ok"):
            return reply["result"]
        raise operations.error_from_wire(reply.get("error") or {}, instance)


def layer_config(redis_url: str, key_prefix: str = "") -> dict:
    """The link's own Redis channel layer, its groups and channels under the host's key prefix.

    Two deployments sharing one Redis server then never see each other's instances.
    """
    prefix = f"{key_prefix}:riptide" if key_prefix else "riptide"
    return {"hosts": [redis_url], "capacity": 200, "expiry": 30, "prefix": prefix}

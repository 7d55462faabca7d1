"""The live feed's fan-out: one JSON text per sample or event, handed to every local client.

The sampler thread never touches asyncio or the channel layer: its listener only
schedules `_publish` on the server's event loop with `call_soon_threadsafe`. There the
message is serialised once and offered to each subscriber's `Outlet`, so the cost of a
sample is O(clients) and no client can delay another. An outlet with nothing ahead of
the message sends it at once: the server's `send` runs inside the fan-out until it first
waits (Daphne's never does: it hands the frame to Twisted and returns), so an idle client
costs no task wake-up and no queue. A send that waits is finished by the outlet's own
task, and the messages behind it wait in a small bounded buffer. A subscriber whose
buffer is full misses that message; one that keeps missing them (it stopped reading) is
disconnected.

Channels' in-memory layer is not used for this: its `receive()` scans every channel,
so a `group_send` to N consumers costs O(N^2) (channels 4.3's InMemoryChannelLayer; measured: 500 clients at a median lag of 105 ms). With REDIS_URL, the
other instances' messages arrive through this process's one cross-instance link
(profiling/cluster/link.py), which hands each to `deliver_threadsafe`; they are fanned
out the same way, and their recent samples join the history message.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from profiling.core.runtime import ProfilingRuntime
from profiling.core.samples import Sample

logger = logging.getLogger(__name__)

# Messages a subscriber may have waiting behind the one being sent; at one sample a
# second this is several seconds of slack for a busy client before it misses samples.
QUEUE_SIZE = 16
# Consecutive messages a subscriber may miss before it is disconnected as stalled.
MAX_CONSECUTIVE_DROPS = 32
# Samples sent in the `history` message on connect.
HISTORY_SAMPLES = 120
# Subscribers served between two yields to the loop: Daphne (Twisted) writes to a socket
# only on the loop's next turn, so yielding lets the first clients' frames leave while
# the rest are being queued (measured: lower p50 and p99 at 500 clients, bench.live_feed).
FAN_OUT_CHUNK = 50
# Messages waiting to be fanned out; the publisher keeps up unless the loop is starved.
OUTBOX_SIZE = 64


class Subscriber(Protocol):
    """A local client of the feed (the websocket consumer's `Outlet`)."""

    def offer(self, text: str) -> bool:
        """Send `text` or buffer it without waiting; False if the buffer is full (dropped)."""

    def stalled(self) -> None:
        """Disconnect: the client stopped reading."""


def start_eagerly(coroutine: Coroutine, context: contextvars.Context) -> Awaitable | None:
    """Run `coroutine` in `context` until it first waits: None if it finished, else its rest.

    Awaiting the rest goes on from where it waited (what an eager task does, without a
    task for the coroutines that never wait).
    """
    try:
        waiting_on = context.run(coroutine.send, None)
    except StopIteration:
        return None
    return _Rest(coroutine, waiting_on)


class _Rest:
    """The rest of a coroutine started by `start_eagerly`: a task awaiting it resumes it."""

    __slots__ = ("coroutine", "waiting_on")

    def __init__(self, coroutine: Coroutine, waiting_on: Any):
        self.coroutine, self.waiting_on = coroutine, waiting_on

    def __await__(self):
        coroutine, waiting_on = self.coroutine, self.waiting_on
        while True:
            try:
                sent = yield waiting_on  # the awaiting task waits on what the coroutine waited on
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # the task's cancellation included: passed on
                step = coroutine.throw
                argument = exc
            else:
                step = coroutine.send
                argument = sent
            try:
                waiting_on = step(argument)
            except StopIteration as stop:
                return stop.value

    def discard(self, _done=None) -> None:
        """Close the coroutine if it still waits (its task was cancelled before resuming it)."""
        self.coroutine.close()


class Outlet:
    """One client's way out: its ASGI `send`, one message in flight, a bounded buffer behind.

    `offer` sends a message at once when nothing is in flight (the send runs until it first
    waits); while a send waits, the outlet's task finishes it and then sends the buffered
    messages in order. A send that fails (the client is gone) is logged and ends nothing
    else; the consumer's disconnect closes the outlet.
    """

    def __init__(
        self,
        send: Callable[[dict], Coroutine],
        size: int,
        on_stalled: Callable[[], None] | None = None,
    ):
        self._send = send
        self.size = size
        self.on_stalled = on_stalled
        self.buffer: deque[str] = deque()
        self.closed = False
        self._context = contextvars.copy_context()
        self._task: asyncio.Task | None = None  # finishing a send that waited

    @property
    def busy(self) -> bool:
        """Whether a send is in flight (waiting): new messages are buffered."""
        return self._task is not None

    def offer(self, text: str) -> bool:
        if self.closed:
            return True  # the client is leaving: nothing to send, nothing dropped
        if self._task is not None:
            if len(self.buffer) >= self.size:
                return False
            self.buffer.append(text)
            return True
        try:
            rest = start_eagerly(self._send({"type": "websocket.send", "text": text}), self._context)
        except Exception:  # this client's send failed; the others' go on
            logger.debug("live feed: a send to a client failed", exc_info=True)
            return True
        if rest is not None:
            self._task = asyncio.get_running_loop().create_task(self._finish(rest), context=self._context)
            self._task.add_done_callback(rest.discard)
        return True

    async def _finish(self, rest: Awaitable) -> None:
        try:
            await rest
            while self.buffer:
                text = self.buffer.popleft()
                await self._send({"type": "websocket.send", "text": text})
        except Exception:  # the client is gone: what waited for it goes too
            logger.debug("live feed: a send to a client failed", exc_info=True)
            self.buffer.clear()
        finally:
            self._task = None

    def stalled(self) -> None:
        if self.on_stalled is not None:
            self.on_stalled()

    def close(self) -> None:
        """Send nothing more: drop the buffer, cancel a send in flight."""
        self.closed = True
        self.buffer.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()


class LiveFeed:
    """Fan the runtime's samples and events out to the subscribers of one event loop."""

    def __init__(
        self,
        runtime: ProfilingRuntime,
        loop: asyncio.AbstractEventLoop,
        *,
        queue_size: int | None = None,
        max_consecutive_drops: int | None = None,
        history_samples: int | None = None,
        remote_history: Callable[[], list[dict]] | None = None,
    ):
        self.runtime = runtime
        self.loop = loop
        self.queue_size = queue_size or QUEUE_SIZE
        self.max_consecutive_drops = max_consecutive_drops or MAX_CONSECUTIVE_DROPS
        self.remote_history = remote_history
        self.pid = os.getpid()
        self._subscribers: dict[Subscriber, int] = {}  # -> consecutive drops
        self._recent: deque[dict] = deque(maxlen=history_samples or HISTORY_SAMPLES)
        self._history_text: str | None = None
        # True while nobody listens: samples are not turned into messages then, so the
        # history is rebuilt from the sampler's own when a client next asks for it.
        self._stale = True
        self._outbox: deque[str] = deque(maxlen=OUTBOX_SIZE)
        self._publisher: asyncio.Task | None = None
        self.sent = 0
        self.dropped = 0
        self.disconnected_stalled = 0
        runtime.add_sample_listener(self._on_sample)
        runtime.add_event_listener(self._on_event)

    # -- on the sampler thread (or whichever thread publishes an event) ------------------

    def _on_sample(self, sample: Sample) -> None:
        if self._subscribers:
            self._call_on_loop(self._publish_sample, sample)
        else:
            self._stale = True

    def _on_event(self, message: dict) -> None:
        if self._subscribers:
            self._call_on_loop(self._publish, message)

    def deliver_threadsafe(self, text: str) -> None:
        """From any thread: fan out a message another instance published (already JSON)."""
        if self._subscribers:
            self._call_on_loop(self._deliver, text)

    def _call_on_loop(self, callback, argument) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, argument)
        except RuntimeError:  # the loop was closed: this feed is over
            self.close()

    # -- on the event loop --------------------------------------------------------------

    def _publish_sample(self, sample: Sample) -> None:
        try:
            message = self.runtime.sample_message(sample)
        except Exception:  # stopped or disabled in the meantime
            logger.debug("no sample message for the feed", exc_info=True)
            return
        self._recent.append(message)
        self._history_text = None
        self._publish(message)

    def _publish(self, message: dict) -> None:
        self._enqueue(json.dumps(message, separators=(",", ":")))

    def _deliver(self, text: str) -> None:
        if self.remote_history is not None:
            self._history_text = None  # the other instances' samples are part of it
        self._enqueue(text)

    def _enqueue(self, text: str) -> None:
        self._outbox.append(text)
        if self._publisher is None or self._publisher.done():
            self._publisher = self.loop.create_task(self._drain_outbox())

    async def _drain_outbox(self) -> None:
        """Fan each waiting message out, in order, yielding to the loop between chunks."""
        while self._outbox:
            text = self._outbox.popleft()
            subscribers = list(self._subscribers)
            for start in range(0, len(subscribers), FAN_OUT_CHUNK):
                if start:
                    await asyncio.sleep(0)
                self.fan_out(text, subscribers[start : start + FAN_OUT_CHUNK])

    def fan_out(self, text: str, subscribers: list[Subscriber] | None = None) -> None:
        """Offer `text` to the subscribers (all by default) without waiting for any of them."""
        stalled = []
        for subscriber in list(self._subscribers) if subscribers is None else subscribers:
            drops = self._subscribers.get(subscriber)
            if drops is None:  # left while the fan-out yielded
                continue
            if not subscriber.offer(text):
                self.dropped += 1
                drops += 1
                self._subscribers[subscriber] = drops
                if drops >= self.max_consecutive_drops:
                    stalled.append(subscriber)
                continue
            self.sent += 1
            if drops:
                self._subscribers[subscriber] = 0
        for subscriber in stalled:
            self.unsubscribe(subscriber)
            self.disconnected_stalled += 1
            logger.info("live feed client disconnected: it stopped reading")
            subscriber.stalled()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers[subscriber] = 0

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.pop(subscriber, None)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def new_outlet(
        self, send: Callable[[dict], Coroutine], on_stalled: Callable[[], None] | None = None
    ) -> Outlet:
        """A client's outlet, its buffer of this feed's size (send: the client's ASGI send)."""
        return Outlet(send, self.queue_size, on_stalled)

    def hello_text(self) -> str:
        runtime = self.runtime
        return json.dumps(
            {
                "type": "hello",
                "instance": runtime.instance,
                "interval_secs": runtime.config.memory_interval_secs,
                "thresholds": runtime.thresholds(),
            },
            separators=(",", ":"),
        )

    def history_text(self) -> str:
        """The recent samples as one `history` message, built once per new sample."""
        if self._stale:
            self._rebuild_history()
        if self._history_text is None:
            samples = list(self._recent)
            if self.remote_history is not None:
                samples += self.remote_history()
            self._history_text = json.dumps({"type": "history", "samples": samples}, separators=(",", ":"))
        return self._history_text

    def _rebuild_history(self) -> None:
        """Rebuild the recent messages from the sampler's history (after nobody listened)."""
        self._stale = False
        self._recent.clear()
        self._history_text = None
        sampler = self.runtime.system_sampler
        if sampler is None or not self.runtime.running:
            return
        for sample in sampler.history(limit=self._recent.maxlen):
            self._recent.append(self.runtime.sample_message(sample))

    def close(self) -> None:
        self.runtime.remove_sample_listener(self._on_sample)
        self.runtime.remove_event_listener(self._on_event)
        self._subscribers.clear()
        publisher, self._publisher = self._publisher, None
        if publisher is not None and not publisher.done():
            try:
                publisher.cancel()
            except RuntimeError:  # its loop is closed already
                pass


_feed: LiveFeed | None = None


def feed_for(runtime: ProfilingRuntime) -> LiveFeed:
    """The feed of this process's runtime on the running loop (a new one if either changed)."""
    global _feed
    loop = asyncio.get_running_loop()
    feed = _feed
    if feed is not None and feed.runtime is runtime and feed.loop is loop and feed.pid == os.getpid():
        return feed
    if feed is not None:
        feed.close()
    from profiling.cluster import link_of

    link = link_of(runtime)
    _feed = LiveFeed(runtime, loop, remote_history=link.remote_history if link is not None else None)
    return _feed


def deliver_to_current_feed(text: str, message: dict) -> None:
    """The cross-instance link's `deliver`: fan another instance's message out to local clients."""
    feed = current_feed()
    if feed is not None:
        feed.deliver_threadsafe(text)


def current_feed() -> LiveFeed | None:
    """This process's feed, if a client ever connected to it."""
    feed = _feed
    if feed is None or feed.pid != os.getpid() or feed.loop.is_closed():
        return None
    return feed

"""The live feed: handshake auth and origin, message shapes, fan-out, backpressure."""

from __future__ import annotations

import asyncio
import contextvars
import json
from datetime import datetime

import pytest
from channels.testing import WebsocketCommunicator
from django.core.asgi import get_asgi_application
from django.test import Client

from profiling import feed as feed_module
from profiling.asgi import wrap
from profiling.feed import LiveFeed, start_eagerly

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/profiling/live/"
ORIGIN = (b"origin", b"http://127.0.0.1:8080")
TIMEOUT = 5


@pytest.fixture
def app(profiler):
    return wrap(get_asgi_application(), start=False, profiler=profiler)


@pytest.fixture
def staff_cookie(staff_user):
    client = Client()
    client.force_login(staff_user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


@pytest.fixture
def plain_user_cookie(django_user_model):
    user = django_user_model.objects.create_user("plain", password="pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def key_header(key: str) -> tuple[bytes, bytes]:
    return (b"x-api-key", key.encode())


async def connect(app, headers):
    communicator = WebsocketCommunicator(app, PATH, headers=headers)
    connected, code = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected


async def receive(communicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=TIMEOUT))


async def receive_type(communicator, wanted: str, limit: int = 50) -> dict:
    for _ in range(limit):
        message = await receive(communicator)
        if message["type"] == wanted:
            return message
    raise AssertionError(f"no {wanted!r} message in {limit} messages")


# -- handshake --------------------------------------------------------------------------


async def test_feed_accepts_api_key_without_origin(app, api_key):
    communicator, connected = await connect(app, [key_header(api_key)])
    assert connected
    assert (await receive(communicator))["type"] == "hello"
    await communicator.disconnect()


async def test_feed_accepts_bearer_key(app, api_key):
    communicator, connected = await connect(app, [(b"authorization", f"Bearer {api_key}".encode())])
    assert connected
    await communicator.disconnect()


async def test_feed_accepts_api_key_with_allowed_origin(app, api_key):
    communicator, connected = await connect(app, [key_header(api_key), ORIGIN])
    assert connected
    await communicator.disconnect()


async def test_feed_accepts_staff_session_with_origin(app, staff_cookie):
    communicator, connected = await connect(app, [staff_cookie, ORIGIN])
    assert connected
    assert (await receive(communicator))["type"] == "hello"
    await communicator.disconnect()


async def test_feed_refuses_staff_session_without_origin(app, staff_cookie):
    _, connected = await connect(app, [staff_cookie])
    assert not connected


async def test_feed_refuses_session_of_non_staff_user(app, plain_user_cookie):
    _, connected = await connect(app, [plain_user_cookie, ORIGIN])
    assert not connected


async def test_feed_refuses_without_key_or_session(app):
    _, connected = await connect(app, [ORIGIN])
    assert not connected


@pytest.fixture(params=["unknown", "revoked", "expired"])
def unusable_key(request, make_key):
    if request.param == "unknown":
        return "not-a-key"
    return make_key(request.param, **{request.param: True})[1]


async def test_feed_refuses_unusable_key(app, unusable_key):
    _, connected = await connect(app, [key_header(unusable_key)])
    assert not connected


@pytest.mark.parametrize(
    "origin", [b"http://evil.example", b"null", b"ftp://127.0.0.1", b"http://127.0.0.1.evil"]
)
async def test_feed_refuses_foreign_origin_even_with_key(app, api_key, origin):
    _, connected = await connect(app, [key_header(api_key), (b"origin", origin)])
    assert not connected


async def test_feed_refuses_foreign_origin_with_staff_session(app, staff_cookie):
    _, connected = await connect(app, [staff_cookie, (b"origin", b"https://evil.example")])
    assert not connected


async def test_feed_ignores_key_in_query_string(app, api_key):
    communicator = WebsocketCommunicator(app, f"{PATH}?api_key={api_key}", headers=[ORIGIN])
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert not connected


async def test_feed_closes_with_4503_when_profiling_is_disabled(disabled_profiler, api_key):
    app = wrap(get_asgi_application(), start=False, profiler=disabled_profiler)
    communicator, connected = await connect(app, [key_header(api_key)])
    assert connected
    assert (await receive(communicator))["type"] == "error"
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close" and output["code"] == 4503


# -- messages ---------------------------------------------------------------------------


async def test_feed_sends_hello_then_history(app, api_key, profiler):
    while len(profiler.system_sampler.history()) < 3:  # the real sampler thread stores them
        await asyncio.sleep(0.01)
    communicator, _ = await connect(app, [key_header(api_key)])
    hello = await receive(communicator)
    assert hello == {
        "type": "hello",
        "instance": profiler.instance,
        "interval_secs": 0.05,
        "thresholds": {"warning_mb": 650.0, "alert_mb": 700.0},
    }
    history = await receive(communicator)
    assert history["type"] == "history"
    assert len(history["samples"]) >= 2
    stamps = [s["timestamp"] for s in history["samples"]]
    assert stamps == sorted(stamps)
    assert all(s["type"] == "sample" and s["instance"] == profiler.instance for s in history["samples"])
    await communicator.disconnect()


async def test_feed_history_includes_samples_taken_while_nobody_listened(app, api_key, profiler):
    first, _ = await connect(app, [key_header(api_key)])
    await receive_type(first, "history")
    await first.disconnect()
    seen = len(profiler.system_sampler.history())
    while len(profiler.system_sampler.history()) < seen + 3:
        await asyncio.sleep(0.01)
    latest = profiler.system_sampler.latest()
    second, _ = await connect(app, [key_header(api_key)])
    history = await receive_type(second, "history")
    stamps = [m["timestamp"] for m in history["samples"]]
    assert profiler.sample_message(latest)["timestamp"] in stamps
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    await second.disconnect()


async def test_feed_sends_a_sample_every_interval(app, api_key, profiler):
    communicator, _ = await connect(app, [key_header(api_key)])
    await receive_type(communicator, "history")
    samples = [await receive_type(communicator, "sample") for _ in range(4)]
    host, _, pid = profiler.instance.rpartition(":")
    import os
    import socket

    assert (host, pid) == (socket.gethostname(), str(os.getpid()))
    for message in samples:
        assert message["instance"] == profiler.instance
        assert message["timestamp"].endswith("Z")
        assert message["memory"]["rss_mb"] > 1
        assert message["memory"]["threshold_status"] == "normal"
        for field in (
            "heap_mb",
            "virtual_mb",
            "resident_mb",
            "shared_mb",
            "growth_rate_mb_per_sec",
            "warnings",
        ):
            assert field in message["memory"]
        cpu = message["cpu"]
        for field in ("cpu_usage_percent", "user_time_percent", "system_time_percent", "load_average"):
            assert field in cpu
        assert set(cpu["process"]) >= {"cpu_percent", "user_seconds", "system_seconds", "num_threads"}
    stamps = [m["timestamp"] for m in samples]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    # One sample per interval: never two in one interval; about one interval apart (a tick
    # the busy machine made late is skipped by design, so one gap may span two).
    interval = profiler.config.memory_interval_secs
    times = [datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() for stamp in stamps]
    gaps = sorted(later - earlier for earlier, later in zip(times[:-1], times[1:], strict=True))
    assert gaps[0] >= 0.5 * interval, (interval, gaps)
    assert 0.5 * interval <= gaps[1] <= 1.6 * interval, (interval, gaps)  # the median of three
    await communicator.disconnect()


async def test_feed_forwards_runtime_events(app, api_key, profiler):
    communicator, _ = await connect(app, [key_header(api_key)])
    await receive_type(communicator, "history")
    event = {"type": "leak_report", "instance": profiler.instance, "potential_leaks": []}
    await asyncio.to_thread(profiler.publish_event, event)  # from another thread, as the workers do
    assert await receive_type(communicator, "leak_report") == event
    await communicator.disconnect()


async def test_feed_fans_out_each_sample_to_every_client(app, api_key):
    clients = [(await connect(app, [key_header(api_key)]))[0] for _ in range(5)]
    for communicator in clients:
        await receive_type(communicator, "history")
    received = [[await receive_type(c, "sample") for _ in range(6)] for c in clients]
    # Clients connected one after another; from the last one's first sample on, all
    # of them got the same messages, each one exactly once.
    common = max(messages[0]["timestamp"] for messages in received)
    tails = [[m for m in messages if m["timestamp"] >= common] for messages in received]
    assert all(len(tail) >= 2 for tail in tails), tails
    shortest = min(len(tail) for tail in tails)
    assert all(tail[:shortest] == tails[0][:shortest] for tail in tails)
    for communicator in clients:
        await communicator.disconnect()


async def test_feed_answers_ping_with_pong(app, api_key):
    communicator, _ = await connect(app, [key_header(api_key)])
    await communicator.send_to(text_data=json.dumps({"type": "ping", "id": 7}))
    assert await receive_type(communicator, "pong") == {"type": "pong", "id": 7}
    await communicator.disconnect()


@pytest.mark.parametrize("text", ["not json", "[1]", '{"type": "subscribe"}', '{"no": "type"}'])
async def test_feed_answers_invalid_message_with_error(app, api_key, text):
    communicator, _ = await connect(app, [key_header(api_key)])
    await communicator.send_to(text_data=text)
    error = await receive_type(communicator, "error")
    assert error["detail"]
    await communicator.disconnect()


async def test_feed_closes_on_oversize_message(app, api_key):
    communicator, _ = await connect(app, [key_header(api_key)])
    await communicator.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 5000}))
    while True:
        output = await communicator.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == 1009


async def test_feed_closes_on_binary_messages_after_repeated_errors(app, api_key):
    communicator, _ = await connect(app, [key_header(api_key)])
    for _ in range(5):
        await communicator.send_to(bytes_data=b"\x00\x01")
    while True:
        output = await communicator.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == 1008


# -- backpressure -----------------------------------------------------------------------


def stuck_after(app, n_messages: int):
    """Wrap an ASGI app so that its sends block forever after n messages (a stalled client)."""

    async def wrapped(scope, receive, send):
        sent = 0

        async def stuck_send(message):
            nonlocal sent
            if message["type"] == "websocket.send":
                sent += 1
                if sent > n_messages:
                    await asyncio.Event().wait()
            await send(message)

        return await app(scope, receive, stuck_send)

    return wrapped


async def test_feed_stalled_client_does_not_delay_others_and_is_dropped(app, api_key, monkeypatch):
    monkeypatch.setattr(feed_module, "QUEUE_SIZE", 4)
    monkeypatch.setattr(feed_module, "MAX_CONSECUTIVE_DROPS", 6)
    stalled = WebsocketCommunicator(stuck_after(app, 3), PATH, headers=[key_header(api_key)])
    assert (await stalled.connect(timeout=TIMEOUT))[0]
    healthy, _ = await connect(app, [key_header(api_key)])
    await receive_type(healthy, "history")
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = [await receive_type(healthy, "sample") for _ in range(20)]
    # 20 samples at 0.05 s: on time, whatever the stalled client does.
    assert loop.time() - started < 20 * 0.05 + 4.0
    assert len({m["timestamp"] for m in received}) == 20
    closed = None
    while closed is None:
        output = await stalled.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            closed = output
    assert closed["code"] == 4408
    await healthy.disconnect()


class FakeClient:
    """A client behind a real `Outlet`: its send records the text, or waits while it is held."""

    def __init__(self, feed: LiveFeed, *, held: bool = False):
        self.received: list[str] = []
        self.held = held
        self.waiter: asyncio.Future | None = None
        self.abandoned = 0
        self.was_stalled = False
        self.outlet = feed.new_outlet(self._send, on_stalled=self._stalled)

    async def _send(self, message: dict) -> None:
        assert message["type"] == "websocket.send"
        if self.held:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            except (asyncio.CancelledError, GeneratorExit):  # cancelled, or closed unresumed
                self.abandoned += 1
                raise
        self.received.append(message["text"])

    async def let_one_through(self) -> None:
        """Finish the send that waits, then wait until the next one waits or none is left."""
        waiter = self.waiter
        waiter.set_result(None)
        for _ in range(100):  # loop turns, not time
            await asyncio.sleep(0)
            if self.waiter is not waiter or not self.outlet.busy:
                return
        raise AssertionError("the outlet did not go on")

    def _stalled(self) -> None:
        self.was_stalled = True


async def test_live_feed_skips_full_buffer_then_drops_the_subscriber(profiler):
    feed = LiveFeed(profiler, asyncio.get_running_loop(), queue_size=2, max_consecutive_drops=3)
    reader, sleeper = FakeClient(feed), FakeClient(feed, held=True)
    feed.subscribe(reader.outlet)
    feed.subscribe(sleeper.outlet)
    for n in range(6):
        feed.fan_out(f"m{n}")
    # m0 in flight, m1 and m2 buffered, m3..m5 dropped: the third drop in a row disconnects.
    assert sleeper.was_stalled and not reader.was_stalled
    assert list(sleeper.outlet.buffer) == ["m1", "m2"] and sleeper.received == []
    assert reader.received == [f"m{n}" for n in range(6)]
    assert feed.subscriber_count == 1 and feed.dropped == 3 and feed.disconnected_stalled == 1
    sleeper.outlet.close()
    feed.close()


async def test_live_feed_resets_drop_count_when_subscriber_catches_up(profiler):
    feed = LiveFeed(profiler, asyncio.get_running_loop(), queue_size=1, max_consecutive_drops=2)
    slow = FakeClient(feed, held=True)
    feed.subscribe(slow.outlet)
    for n in range(6):
        feed.fan_out(f"m{n}")  # every other message is dropped, never two in a row
        feed.fan_out(f"extra{n}")
        await slow.let_one_through()
    assert not slow.was_stalled and feed.subscriber_count == 1 and feed.dropped == 5
    assert slow.received == ["m0", "extra0", *(f"m{n}" for n in range(1, 5))]
    slow.outlet.close()
    feed.close()


async def test_live_feed_fans_out_in_chunks_keeping_order(profiler, monkeypatch):
    monkeypatch.setattr(feed_module, "FAN_OUT_CHUNK", 2)
    feed = LiveFeed(profiler, asyncio.get_running_loop())
    clients = [FakeClient(feed) for _ in range(5)]
    for client in clients:
        feed.subscribe(client.outlet)
    feed._publish({"type": "alert", "n": 1})
    feed._publish({"type": "alert", "n": 2})
    feed.unsubscribe(clients[-1].outlet)  # leaves before the fan-out reaches it
    await feed._publisher
    for client in clients[:-1]:
        assert [json.loads(t)["n"] for t in client.received] == [1, 2]
    assert clients[-1].received == []
    feed.close()


async def test_feed_middleware_stack_resolves_the_session_and_keeps_the_servers_send(
    staff_user, staff_cookie
):
    from profiling.consumers import feed_middleware_stack

    seen = {}

    async def inner(scope, receive, send):
        seen["send"], seen["user"] = send, await _user_of(scope)
        seen["session"] = scope["session"]

    async def send(message):
        pass

    scope = {"type": "websocket", "path": PATH, "headers": [staff_cookie, ORIGIN]}
    await feed_middleware_stack(inner)(scope, None, send)
    assert seen["send"] is send  # not the session middleware's wrapper
    assert seen["user"].pk == staff_user.pk and seen["session"].session_key


async def _user_of(scope):
    from channels.db import database_sync_to_async

    user = scope["user"]
    return await database_sync_to_async(lambda: user.pk and user)()


# -- outlets: a client's send, eagerly ---------------------------------------------------


async def test_outlet_sends_within_the_offer_when_the_send_never_waits(profiler):
    feed = LiveFeed(profiler, asyncio.get_running_loop())
    client = FakeClient(feed)
    assert client.outlet.offer("a") and client.outlet.offer("b")
    # No loop turn in between: both were sent by the offers themselves, no task was made.
    assert client.received == ["a", "b"] and not client.outlet.busy
    feed.close()


async def test_outlet_buffers_behind_a_send_that_waits_and_sends_in_order(profiler):
    feed = LiveFeed(profiler, asyncio.get_running_loop(), queue_size=2)
    client = FakeClient(feed, held=True)
    outlet = client.outlet
    assert outlet.offer("a") and outlet.busy
    assert outlet.offer("b") and outlet.offer("c")
    assert not outlet.offer("d")  # the buffer is full: dropped
    client.held = False
    await client.let_one_through()
    assert client.received == ["a", "b", "c"] and not outlet.busy
    assert outlet.offer("e") and client.received[-1] == "e"
    feed.close()


@pytest.mark.parametrize("resumed", [False, True], ids=["before-its-task-ran", "in-its-task"])
async def test_outlet_close_cancels_the_waiting_send_and_drops_the_buffer(profiler, resumed):
    feed = LiveFeed(profiler, asyncio.get_running_loop())
    client = FakeClient(feed, held=True)
    outlet = client.outlet
    outlet.offer("a")
    outlet.offer("b")
    task = outlet._task
    if resumed:
        await asyncio.sleep(0)  # one loop turn: the task now waits inside the send
    outlet.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.abandoned == 1 and client.received == [] and not outlet.buffer
    client.held = False
    assert outlet.offer("c") and client.received == []
    feed.close()


async def test_a_failing_send_leaves_the_other_clients_fan_out_alone(profiler):
    feed = LiveFeed(profiler, asyncio.get_running_loop())

    async def gone(message):
        raise ConnectionError("the client went away")

    broken, healthy = feed.new_outlet(gone), FakeClient(feed)
    feed.subscribe(broken)
    feed.subscribe(healthy.outlet)
    feed.fan_out("m0")
    assert healthy.received == ["m0"] and feed.subscriber_count == 2
    feed.close()


async def test_outlet_whose_waiting_send_fails_drops_its_buffer_and_sends_again(profiler):
    feed = LiveFeed(profiler, asyncio.get_running_loop())
    gate = asyncio.get_running_loop().create_future()
    sent = []

    async def send(message):
        if message["text"] == "a":
            await gate
            raise ConnectionError("the client went away")
        sent.append(message["text"])

    outlet = feed.new_outlet(send)
    outlet.offer("a")
    outlet.offer("b")
    task = outlet._task
    gate.set_result(None)
    await task
    assert not outlet.busy and not outlet.buffer and sent == []
    assert outlet.offer("c") and sent == ["c"]
    feed.close()


async def test_start_eagerly_resumes_the_rest_in_the_same_context():
    variable = contextvars.ContextVar("variable", default="caller's")
    resumed = asyncio.get_running_loop().create_future()

    async def work():
        variable.set("work's")
        await resumed
        return variable.get()

    context = contextvars.copy_context()
    rest = start_eagerly(work(), context)
    assert rest is not None and variable.get() == "caller's"
    task = asyncio.get_running_loop().create_task(_await(rest), context=context)
    resumed.set_result(None)
    assert await task == "work's"

    async def quick():
        return 1

    assert start_eagerly(quick(), context) is None


async def _await(awaitable):
    return await awaitable


def test_origin_with_empty_allowed_hosts_is_local_only_under_debug(settings):
    from profiling.consumers import origin_allowed

    settings.ALLOWED_HOSTS = []
    settings.DEBUG = True
    assert origin_allowed("http://localhost:8000") and origin_allowed("http://127.0.0.1:8000")
    assert not origin_allowed("http://evil.example")
    settings.DEBUG = False
    assert not origin_allowed("http://localhost:8000")

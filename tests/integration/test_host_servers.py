"""The host project under gunicorn (2 sync workers with --preload; 2 gthread; 2 uvicorn workers),
uvicorn --workers 2 (all with Redis) and Daphne (without).

Each server runs once for all the tests of its kind, with a steady load on the host's CPU
view (`hostapp.work.crunch`, about 30 ms a request, 64 KiB leaked into `hostapp.leak`).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import psutil
import pytest

from tests.browser.pages import PageWatch, points, wait_until
from tests.integration.hostproject import (
    HOT_FUNCTION,
    HOT_FUNCTION_FILE,
    HOT_FUNCTION_LINE,
    SUPERUSER,
    SUPERUSER_PASSWORD,
    WSGI_KINDS,
    admin_add_api_key,
    cookie_plaintext,
    failure_context,
    fresh_redis_db,
    host_untouched_problems,
    instances,
    leak_components,
    listed_pids,
    serving,
    summary_of_bottlenecks,
    top_hotspot,
    wait_for_named_leak,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

SERVERS = {
    "gunicorn": {"workers": 2, "uses_redis": True},
    "gunicorn-gthread": {"workers": 2, "uses_redis": True},
    "gunicorn-uvicorn": {"workers": 2, "uses_redis": True},
    "uvicorn": {"workers": 2, "uses_redis": True},
    "daphne": {"workers": 1, "uses_redis": False},
}
REQUESTS, PER_WORKER = 300, 60


@pytest.fixture(scope="module", params=list(SERVERS))
def host(request, host_project):
    kind = request.param
    options = SERVERS[kind]
    with ExitStack() as stack:
        env, redis = {}, None
        prefix = None
        if options["uses_redis"]:
            redis_url, prefix, redis = stack.enter_context(fresh_redis_db())
            env = {
                "REDIS_URL": redis_url,
                "HOST_CACHE_PREFIX": prefix,
                "HOST_CHANNEL_PREFIX": f"{prefix}-asgi",
            }
        server, load = stack.enter_context(serving(host_project, kind, env, workers=options["workers"]))
        yield SimpleNamespace(kind=kind, server=server, load=load, redis=redis, prefix=prefix, **options)


def loaded(host) -> set[int]:
    """Wait until the CPU view has served enough requests in every worker; return the workers' pids."""
    workers = host.server.worker_pids()
    host.load.wait_for(REQUESTS, workers, PER_WORKER, timeout=90)
    return workers


def test_every_worker_is_listed_once_and_the_master_never(host):
    server = host.server
    workers = server.worker_pids()
    assert len(workers) == host.workers, failure_context(server, f"workers {sorted(workers)}")
    answered_by = set()
    with server.client(headers={"Connection": "close"}) as client:  # so several workers answer
        for _ in range(6):
            listing = instances(client)
            pids = listed_pids(listing)
            answered_by.update(item["pid"] for item in listing["instances"] if item.get("this"))
            context = f"listed {listing['instances']}; master {server.pid}, workers {sorted(workers)}"
            assert sorted(pids) == sorted(workers), failure_context(server, context)
            assert listing.get("shared") is (host.redis is not None), context
    assert answered_by <= workers, (answered_by, workers)
    if server.kind != "daphne":
        assert server.pid not in pids, context
        assert f"profiler started in process {server.pid}" not in server.log(10**7), failure_context(
            server, "the master started a profiler"
        )
    if server.kind.startswith("gunicorn"):  # --preload imports the app in the master: still no thread there
        assert psutil.Process(server.pid).num_threads() == 1, "gunicorn's master runs threads"


def test_host_hot_function_is_the_top_hotspot_of_every_worker(host):
    loaded(host)
    found = {}
    with host.server.client() as client:
        for item in instances(client)["instances"]:
            found[item["instance"]] = top_hotspot(client, item["instance"])
    assert len(found) == host.workers
    wrong = {name: summary_of_bottlenecks(body) for name, (top, body) in found.items() if top != HOT_FUNCTION}
    assert not wrong, failure_context(
        host.server, f"{HOT_FUNCTION} is not the top hotspot (served {dict(host.load.served)}): {wrong}"
    )
    for name, (_top, body) in found.items():
        hotspot = body["hotspots"][0]
        where = (hotspot.get("file_location"), hotspot.get("line_number"))
        assert where == (HOT_FUNCTION_FILE, HOT_FUNCTION_LINE), (name, hotspot)
        # Measured from /proc: crunch uses over 80 % of a worker's CPU under this load.
        assert hotspot["cpu_time_percent"] >= 50, (name, summary_of_bottlenecks(body))


def test_the_servers_own_idle_waits_are_never_hotspots(host):
    """The host's code never waits here, so a hotspot with no CPU at all is a wait of the server's own."""
    loaded(host)
    waits = {}
    with host.server.client() as client:
        for item in instances(client)["instances"]:
            _top, body = top_hotspot(client, item["instance"])
            waits[item["instance"]] = [
                (
                    h["function_name"],
                    h.get("impact_score"),
                    h.get("cpu_time_percent"),
                    h.get("wall_time_percent"),
                )
                for h in body["hotspots"]
                if h.get("impact_score", 0) >= 0.05 and h.get("cpu_time_percent", 0) < 1
            ]
    assert not any(waits.values()), f"idle waits ranked as hotspots (name, impact, cpu %, wall %): {waits}"


def test_the_servers_launcher_script_is_never_a_hotspot(host):
    """No host code runs as __main__ here: a `__main__` hotspot is the server's own console script."""
    loaded(host)
    launchers = {}
    with host.server.client() as client:
        for item in instances(client)["instances"]:
            _top, body = top_hotspot(client, item["instance"])
            launchers[item["instance"]] = [
                (h["function_name"], h.get("file_location"), h.get("impact_score"), h.get("cpu_time_percent"))
                for h in body["hotspots"]
                if h["function_name"].startswith("__main__.")
            ]
    assert not any(launchers.values()), (
        f"the server's script ranked as code (name, file, impact, cpu %): {launchers}"
    )


def test_host_leak_is_named_by_leak_detection_in_every_worker(host):
    loaded(host)
    with host.server.client() as client:
        names = [item["instance"] for item in instances(client)["instances"]]
        reports = {name: wait_for_named_leak(client, name) for name in names}
    assert len(reports) == host.workers
    for name, report in reports.items():
        assert report.get("highest_risk_component", "").startswith("hostapp.leak"), (
            name,
            leak_components(report),
        )


def test_host_views_admin_and_auth_are_untouched(host):
    problems = host_untouched_problems(host.server)
    assert not problems, failure_context(host.server, "\n".join(problems))


@pytest.mark.parametrize(
    "host", [kind for kind, options in SERVERS.items() if options["uses_redis"]], indirect=True
)
def test_redis_keys_live_under_the_host_cache_prefix(host):
    keys = sorted(key.decode(errors="replace") for key in host.redis.scan_iter(count=1000))
    assert keys, "nothing in the host's Redis database"
    foreign = [key for key in keys if host.prefix not in key]
    assert not foreign, f"Redis keys outside the host's KEY_PREFIX {host.prefix!r}: {foreign[:20]}"


@pytest.mark.parametrize(
    "host", [kind for kind, options in SERVERS.items() if options["uses_redis"]], indirect=True
)
def test_metrics_of_every_instance_carry_an_instance_label(host):
    with host.server.client() as client:
        listed = [item["instance"] for item in instances(client)["instances"]]
        response = client.get("/profiling/metrics", params={"instances": "all"})
    assert response.status_code == 200, response.text[:1000]
    missing = [name for name in listed if f'instance="{name}"' not in response.text]
    assert not missing, (missing, response.text[:3000])


@pytest.mark.parametrize("host", ["daphne"], indirect=True)
def test_a_snapshot_lands_in_the_host_profiling_snapshot_dir_and_downloads(host):
    snapshot_dir = host.server.project.path / "var" / "snapshots"  # settings.PROFILING["SNAPSHOT_DIR"]
    with host.server.client() as client:
        created = client.post("/api/profiling/snapshot")
        assert created.status_code == 200, created.text[:1000]
        body = created.json()
        assert Path(body["file_path"]).parent == snapshot_dir, body
        download = client.get(body["download_url"])
    assert download.status_code == 200, download.text[:500]
    assert download.content == (snapshot_dir / f"{body['snapshot_id']}.json").read_bytes()


@pytest.mark.parametrize("host", ["daphne"], indirect=True)
def test_a_key_added_in_the_host_admin_is_never_readable_in_a_cookie(host):
    key, cookies = admin_add_api_key(host.server, "added-in-admin")
    leaked = [
        (name, cookie_plaintext(value)) for name, value in cookies if key in value + cookie_plaintext(value)
    ]
    assert not leaked, f"the new key {key} is readable in a cookie: {leaked}"
    with host.server.client(key=key) as client:
        assert client.get("/api/profiling/memory").status_code == 200


@pytest.mark.browser
@pytest.mark.parametrize("host", ["gunicorn", "uvicorn"], indirect=True)
def test_dashboard_at_profiling_draws_live_charts_polling_under_wsgi_and_by_websocket_under_asgi(
    host, browser
):
    host.load.stop()  # the page, not the CPU view, on the two cores now
    server = host.server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(15_000)
    watch = PageWatch(page, server.base_url)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(server.base_url + "/profiling/")
    assert urlsplit(page.url).path == "/profiling/login/", page.url
    page.fill("#id_username", SUPERUSER)
    page.fill("#id_password", SUPERUSER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.base_url + "/profiling/")
    page.wait_for_selector("#connection-status[data-state=open]")
    wait_until(lambda: points(page, "memory-chart") >= 2, "the memory chart's first points")
    drawn = points(page, "memory-chart")
    wait_until(lambda: points(page, "memory-chart") >= drawn + 2, "two more points in the memory chart")
    assert page.get_attribute("#status-badge", "data-status") in {"normal", "warning", "critical"}
    listed = "#instance-list li[data-instance][data-state=live]"
    wait_until(
        lambda: page.locator(listed).count() == host.workers, f"{host.workers} live instances in the list"
    )
    shown = {
        int(name.rpartition(":")[2])
        for name in page.eval_on_selector_all(listed, "els => els.map(e => e.dataset.instance)")
    }
    assert shown == server.worker_pids(), (shown, server.worker_pids())
    connection = page.inner_text("#connection-status")
    if server.kind in WSGI_KINDS:
        assert "polling" in connection, connection
        assert sockets == []
    else:
        assert "live" in connection, connection
        assert [url for url in sockets if urlsplit(url).path == "/ws/profiling/live/"], sockets
    watch.assert_clean()

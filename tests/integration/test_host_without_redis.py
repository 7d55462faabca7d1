"""gunicorn with 2 sync workers and no Redis: each answer names its worker, the dashboard says it sees one."""

from __future__ import annotations

import pytest

from tests.integration.hostproject import HostServer, instances, listed_pids, staff_session

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

TRIES = 12


@pytest.fixture(scope="module")
def gunicorn(host_project):
    server = HostServer(host_project, "gunicorn")
    try:
        yield server.start()
    finally:
        server.stop()


def test_without_redis_each_answer_names_the_worker_that_gave_it(gunicorn):
    workers = gunicorn.worker_pids()
    assert len(workers) == 2
    named = set()
    with gunicorn.client(headers={"Connection": "close"}) as client:
        for _ in range(TRIES):
            listing = instances(client)
            assert listing["shared"] is False and listing["count"] == 1, listing
            [pid] = listed_pids(listing)
            assert pid in workers and pid != gunicorn.pid, (listing, workers)
            memory = client.get("/api/profiling/memory")
            assert memory.status_code == 200, memory.text
            named.add(memory.json()["instance"])
    assert {int(name.rpartition(":")[2]) for name in named} <= workers, (named, workers)


def test_without_redis_another_worker_is_404_naming_redis_url(gunicorn):
    workers = gunicorn.worker_pids()
    with gunicorn.client(headers={"Connection": "close"}) as client:
        host = instances(client)["instances"][0]["instance"].rpartition(":")[0]
        answers = []
        for _ in range(TRIES):
            for pid in workers:
                response = client.get("/api/profiling/cpu", params={"instance": f"{host}:{pid}"})
                answers.append((pid, response.status_code, response.json()))
    for pid, status, body in answers:
        if status == 200:  # this worker answered for itself
            assert body["instance"] == f"{host}:{pid}", body
        else:
            assert status == 404 and "REDIS_URL" in body["detail"], (pid, status, body)
    assert any(status == 404 for _, status, _ in answers), answers


def test_without_redis_the_dashboard_says_it_sees_one_worker(gunicorn):
    with staff_session(gunicorn) as browser:
        page = browser.get("/profiling/")
    assert page.status_code == 200, page.text[:1000]
    assert 'id="single-instance-note"' in page.text and "REDIS_URL" in page.text, page.text[:3000]

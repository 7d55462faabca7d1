"""Two Daphne processes on one SQLite file: concurrent writes wait, never "database is locked".

SQLite allows one writer at a time. The settings open every SQLite transaction with
BEGIN IMMEDIATE and a 20 s busy timeout, so a second writer waits for the lock instead of
failing when it upgrades a read to a write. Logins write (a session row, `last_login`), so
a burst of them spread over both processes exercises exactly that.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.browser.pages import PASSWORD, USERNAME, create_staff_user

pytestmark = pytest.mark.server

LOGINS = 24


def log_in(server) -> int:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        client.get("/accounts/login/")
        response = client.post(
            "/accounts/login/",
            data={
                "username": USERNAME,
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
                "next": "/",
            },
            headers={"Referer": f"{server.base_url}/accounts/login/"},
        )
        if response.status_code == 302:
            assert client.get("/").status_code == 200  # the session it wrote is readable
        return response.status_code


def test_logins_spread_over_two_processes_on_one_sqlite_file_all_succeed(daphne_server, tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}", "DJANGO_LOGIN_RATE": "10000/h"}
    first = daphne_server(env=env, workdir=tmp_path / "a")
    second = daphne_server(env=env, workdir=tmp_path / "b", api_key=first.api_key)
    create_staff_user(first)
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda i: log_in((first, second)[i % 2]), range(LOGINS)))
    assert codes == [302] * LOGINS
    for server in (first, second):
        assert "database is locked" not in server.log()
    with second.client(first.api_key) as client:  # one key, one database, both processes
        assert client.get("/api/profiling/cpu").status_code == 200

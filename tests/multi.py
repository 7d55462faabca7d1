"""Real PostgreSQL and Redis for multi-process tests: a fresh database and Redis db per use."""

from __future__ import annotations

import secrets
from contextlib import contextmanager

import psycopg
import redis

PG_ADMIN_URL = "postgresql://root@127.0.0.1:5432/test"
REDIS_TEST_URL = "redis://127.0.0.1:6379/13"


@contextmanager
def fresh_postgres_database():
    """Create an empty database for one test and drop it afterwards; yield its URL."""
    name = f"riptide_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://root@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_redis():
    """Yield a Redis URL on a database emptied before and after the test."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=5)
    client.flushdb()
    try:
        yield REDIS_TEST_URL
    finally:
        client.flushdb()
        client.close()


@contextmanager
def two_servers(daphne_server, env: dict[str, str] | None = None):
    """Two real Daphne processes sharing a fresh PostgreSQL database and Redis; both stopped after."""
    import os
    import signal

    with fresh_postgres_database() as database_url, fresh_redis() as redis_url:
        shared = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, **(env or {})}
        first = daphne_server(env=shared)
        second = daphne_server(env=shared)
        try:
            yield first, second
        finally:
            for server in (first, second):
                if server.process is not None:
                    os.kill(server.process.pid, signal.SIGCONT)  # in case a test left it stopped
                server.stop()

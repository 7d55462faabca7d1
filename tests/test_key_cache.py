"""A verified key is remembered briefly (no query per request) and forgotten at once on any change."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from profiling import keycache
from profiling.authentication import resolve_api_key
from profiling.keycache import GENERATION_CACHE_KEY, VerifiedKeyCache
from profiling.models import ProfilingAPIKey

pytestmark = pytest.mark.django_db

MEMORY = "/api/profiling/memory"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(keycache, "verified_keys", VerifiedKeyCache(ttl=5.0, clock=clock))
    return clock


def test_a_verified_key_is_checked_again_without_a_query(make_key, clock, django_assert_num_queries):
    obj, key = make_key("a")
    with django_assert_num_queries(1):
        assert resolve_api_key(key) == obj
    with django_assert_num_queries(0):
        for _ in range(5):
            assert resolve_api_key(key) == obj


def test_after_the_ttl_the_key_is_verified_again(make_key, clock, django_assert_num_queries):
    obj, key = make_key("a")
    resolve_api_key(key)
    clock.now += 4.9
    with django_assert_num_queries(0):
        assert resolve_api_key(key) == obj
    clock.now += 0.2
    with django_assert_num_queries(1):
        assert resolve_api_key(key) == obj


def test_a_wrong_key_with_a_known_prefix_is_never_remembered(make_key, clock, django_assert_num_queries):
    obj, key = make_key("a")
    assert resolve_api_key(key) == obj
    wrong = key[:-1] + ("x" if key[-1] != "x" else "y")
    with django_assert_num_queries(1):
        assert resolve_api_key(wrong) is None
    assert len(keycache.verified_keys) == 1


def test_the_cache_holds_a_digest_never_the_key(make_key, clock):
    _, key = make_key("a")
    resolve_api_key(key)
    stored = list(keycache.verified_keys._entries)
    assert len(stored) == 1
    assert key.encode() not in stored[0] and key.split(".")[1].encode() not in stored[0]
    assert len(stored[0]) == 16


@pytest.mark.parametrize("change", ["save", "update", "delete", "command"])
def test_a_revoke_or_delete_takes_effect_on_the_next_request(
    make_key, clock, change, client_with_key, profiler
):
    obj, key = make_key("gone")
    assert resolve_api_key(key) == obj
    if change == "save":
        obj.revoked = True
        obj.save()
    elif change == "update":
        ProfilingAPIKey.objects.filter(pk=obj.pk).update(revoked=True)
    elif change == "delete":
        obj.delete()
    else:
        call_command("revoke_api_key", "--name", "gone", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert resolve_api_key(key) is None


def test_an_expiry_date_passing_takes_effect_without_a_change(make_key, clock, django_assert_num_queries):
    obj, key = make_key("a")
    obj.expiry_date = timezone.now() + timedelta(milliseconds=300)
    obj.save()
    assert resolve_api_key(key) == obj
    time.sleep(0.35)
    with django_assert_num_queries(0):
        assert resolve_api_key(key) is None


def test_a_change_made_by_another_process_is_followed_through_the_shared_counter(make_key, clock):
    obj, key = make_key("a")
    assert resolve_api_key(key) == obj
    # Another process revokes: the row changes, and its hook bumps the counter in the shared cache.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ProfilingAPIKey._meta.db_table} SET revoked = %s WHERE id = %s", [True, obj.pk]
        )
    assert resolve_api_key(key) == obj  # nothing told this process yet
    cache.set(GENERATION_CACHE_KEY, cache.get(GENERATION_CACHE_KEY, 0) + 1, None)
    assert resolve_api_key(key) is None


def test_a_revoked_key_answers_401_on_the_next_request(make_key, clock, profiler):
    from rest_framework.test import APIClient

    obj, key = make_key("a")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    assert client.get(MEMORY).status_code == 200
    obj.revoked = True
    obj.save()
    assert client.get(MEMORY).status_code == 401

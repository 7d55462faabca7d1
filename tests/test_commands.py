import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from profiling.models import ProfilingAPIKey

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().splitlines()


def test_create_api_key_prints_a_working_key_on_the_last_line(profiler):
    key = run("create_api_key", "--name", "cron")[-1]
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    assert client.get("/api/profiling/memory").status_code == 200
    stored = ProfilingAPIKey.objects.get(name="cron")
    assert key not in (stored.hashed_key, stored.id)  # stored hashed
    assert stored.expiry_date is None


def test_create_api_key_with_expiry(profiler):
    run("create_api_key", "--name", "temp", "--expires-days", "7")
    stored = ProfilingAPIKey.objects.get(name="temp")
    from django.utils import timezone

    days = (stored.expiry_date - timezone.now()).total_seconds() / 86400
    assert 6.99 < days <= 7.0


@pytest.mark.parametrize(
    "args", [["--name", ""], ["--name", "x", "--expires-days", "0"], ["--name", "y" * 51]]
)
def test_create_api_key_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        run("create_api_key", *args)


def test_revoke_api_key_revokes_every_key_of_that_name(profiler):
    keys = [run("create_api_key", "--name", "ci")[-1] for _ in range(2)]
    other = run("create_api_key", "--name", "keep")[-1]
    assert run("revoke_api_key", "--name", "ci") == ["Revoked 2 API key(s) named 'ci'."]
    for key, expected in [(keys[0], 401), (keys[1], 401), (other, 200)]:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key)
        assert client.get("/api/profiling/memory").status_code == expected


def test_revoke_api_key_unknown_name_fails():
    with pytest.raises(CommandError):
        run("revoke_api_key", "--name", "nobody")


def test_ensure_dev_api_key_prints_the_key_only_once():
    first = "\n".join(run("ensure_dev_api_key"))
    second = "\n".join(run("ensure_dev_api_key"))
    assert "shown once" in first
    key = first.splitlines()[1].strip()
    assert ProfilingAPIKey.objects.get_from_key(key).name == "development"
    assert key not in second

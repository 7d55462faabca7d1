"""Management commands and test runs of the host project start no profiler."""

from __future__ import annotations

import ast
import json

import pytest

from tests.integration.hostproject import fresh_redis_db

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

STARTED = "profiler started"

THREADS_AFTER_WORK = """
import threading
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
import mysite.urls
call_command("check")
call_command("migrate", verbosity=0)
reverse("admin:index")
Client().get("/hello/")
print([t.name for t in threading.enumerate()])
"""


SETTINGS_AFTER_SERVING = """
import json
from django.conf import settings
import mysite.urls, mysite.wsgi, mysite.asgi
print(json.dumps({
    "MIDDLEWARE": settings.MIDDLEWARE,
    "AUTHENTICATION_BACKENDS": settings.AUTHENTICATION_BACKENDS,
    "LOGIN_URL": settings.LOGIN_URL,
    "LOGIN_REDIRECT_URL": settings.LOGIN_REDIRECT_URL,
    "MESSAGE_STORAGE": settings.MESSAGE_STORAGE,
    "TEMPLATES": settings.TEMPLATES,
    "ROOT_URLCONF": settings.ROOT_URLCONF,
    "REST_FRAMEWORK": getattr(settings, "REST_FRAMEWORK", None),
    "STATICFILES_FINDERS": settings.STATICFILES_FINDERS,
}))
"""


@pytest.fixture
def redis_env():
    with fresh_redis_db() as (redis_url, prefix, _client):
        yield {"REDIS_URL": redis_url, "HOST_CACHE_PREFIX": prefix}


@pytest.mark.parametrize("command", [("check",), ("migrate", "--noinput")], ids=["check", "migrate"])
def test_management_command_starts_no_profiler(host_project, redis_env, command):
    result = host_project.manage(*command, env=redis_env)
    output = result.stdout + result.stderr
    assert STARTED not in output, output
    assert "profiling." not in output, output  # a host set up as documented gets no check message


def test_shell_after_check_migrate_and_a_request_runs_no_profiler_thread(host_project, redis_env):
    result = host_project.manage("shell", "-c", THREADS_AFTER_WORK, env=redis_env)
    assert STARTED not in result.stdout + result.stderr, result.stdout + result.stderr
    names = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert [name for name in names if name.startswith("riptide-")] == [], names


def test_host_test_run_starts_no_profiler(host_project, redis_env):
    result = host_project.manage("test", "hostapp", "--noinput", env=redis_env)
    assert STARTED not in result.stdout + result.stderr, result.stdout + result.stderr
    assert "OK" in result.stderr, result.stderr


def test_create_api_key_prints_the_key_last(host_project):
    key = host_project.create_api_key("another")
    assert key and " " not in key and key != host_project.api_key


def generated_setting(project, name: str):
    """A setting's value as `startproject` wrote it into mysite/settings.py."""
    tree = ast.parse((project.path / "mysite" / "settings.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise LookupError(name)


def test_host_settings_stay_as_the_host_wrote_them_after_the_entry_points_load(host_project, redis_env):
    result = host_project.manage("shell", "-c", SETTINGS_AFTER_SERVING, env=redis_env)
    live = json.loads(result.stdout.strip().splitlines()[-1])
    assert live["MIDDLEWARE"] == generated_setting(host_project, "MIDDLEWARE")
    assert live["TEMPLATES"] == json.loads(json.dumps(generated_setting(host_project, "TEMPLATES")))
    assert live["ROOT_URLCONF"] == "mysite.urls"
    assert live["AUTHENTICATION_BACKENDS"] == ["django.contrib.auth.backends.ModelBackend"]
    assert (live["LOGIN_URL"], live["LOGIN_REDIRECT_URL"]) == ("/accounts/login/", "/accounts/profile/")
    assert live["MESSAGE_STORAGE"] == "django.contrib.messages.storage.fallback.FallbackStorage"
    assert live["REST_FRAMEWORK"] is None
    assert live["STATICFILES_FINDERS"] == [
        "django.contrib.staticfiles.finders.FileSystemFinder",
        "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    ]

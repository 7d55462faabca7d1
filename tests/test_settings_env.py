"""Bad environment values stop start-up and `manage.py check`, naming the variable."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from profiling.env import Env

ROOT = Path(__file__).resolve().parent.parent


def check(env: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PROFILING_", "DJANGO_", "ENABLE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**full_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PROFILING_MEMORY_INTERVAL_SECS": "abc"}, "PROFILING_MEMORY_INTERVAL_SECS"),
        ({"PROFILING_MEMORY_INTERVAL_SECS": "-1"}, "PROFILING_MEMORY_INTERVAL_SECS"),
        ({"PROFILING_LEAK_CHECK_INTERVAL_SECS": "nan"}, "PROFILING_LEAK_CHECK_INTERVAL_SECS"),
        ({"PROFILING_MEMORY_WARNING_MB": "800"}, "PROFILING_MEMORY_WARNING_MB"),
        ({"PROFILING_RATE_DEFAULT": "100 per minute"}, "PROFILING_RATE_DEFAULT"),
        ({"PROFILING_RATE_SNAPSHOT": "0/m"}, "PROFILING_RATE_SNAPSHOT"),
        ({"ENABLE_PROFILING": "maybe"}, "ENABLE_PROFILING"),
        ({"PROFILING_SNAPSHOT_MAX_COUNT": "0"}, "PROFILING_SNAPSHOT_MAX_COUNT"),
        ({"PROFILING_SNAPSHOT_MAX_TOTAL_MB": "0.5"}, "PROFILING_SNAPSHOT_MAX_TOTAL_MB"),
        ({"DATABASE_URL": "mysql://u:secret@h/db"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY"),
    ],
)
def test_if_a_value_is_bad_then_check_fails_naming_it(env, named):
    result = check(env)
    assert result.returncode != 0
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr  # a URL's password is never echoed


def test_if_values_are_good_then_check_passes():
    result = check({"PROFILING_MEMORY_INTERVAL_SECS": "0.5", "PROFILING_RATE_DEFAULT": "500/h"})
    assert result.returncode == 0, result.stderr


def test_env_parses_typed_values():
    env = Env({"A": " 1.5 ", "B": "off", "C": "a, b,,c", "D": "10/5m", "E": ""})
    assert env.float("A", 0.0) == 1.5
    assert env.bool("B", True) is False
    assert env.list("C", []) == ["a", "b", "c"]
    assert env.rate("D", "1/s") == "10/5m"
    assert env.float("E", 2.0) == 2.0  # empty means unset
    with pytest.raises(ImproperlyConfigured, match="A="):
        env.int("A", 0)

"""PROFILING_SAMPLE_HZ: read, validated, handed to the core."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.servers import ROOT


def check_with(value: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "riptide_dashboard.settings", "PROFILING_SAMPLE_HZ": value}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("value", ["abc", "0", "1001", "nan"])
def test_sample_hz_bad_value_stops_start_up_naming_it(value):
    result = check_with(value)
    assert result.returncode != 0
    assert "PROFILING_SAMPLE_HZ" in result.stderr


def test_sample_hz_reaches_the_core_config(settings):
    from profiling.conf import profiling_config

    settings.PROFILING = {"SAMPLE_HZ": 47.0}
    assert profiling_config().sample_hz == 47.0

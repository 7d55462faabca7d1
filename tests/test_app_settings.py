"""The app's settings object: settings.PROFILING over the environment over the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from profiling.settings import SETTINGS, ProfilingSettings, profiling_settings


def test_every_key_has_a_default_with_nothing_set():
    values = ProfilingSettings(user_settings={}, environ={}).load()
    assert set(values) == set(SETTINGS)
    assert values["ENABLED"] is True and values["SAMPLE_HZ"] == 11.0 and values["REDIS_URL"] is None
    assert values["RATE_DEFAULT"] == "100/m" and values["LOGIN_RATE"] == "10/m"
    assert values["MAX_BODY_BYTES"] == 64 * 1024


def test_the_environment_is_read_with_the_seeds_names():
    values = ProfilingSettings(
        user_settings={},
        environ={
            "ENABLE_PROFILING": "false",
            "PROFILING_SAMPLE_HZ": "47",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
        },
    ).load()
    assert values["ENABLED"] is False and values["SAMPLE_HZ"] == 47.0
    assert values["REDIS_URL"] == "redis://127.0.0.1:6379/3"


def test_settings_profiling_wins_over_the_environment():
    values = ProfilingSettings(
        user_settings={"SAMPLE_HZ": 23, "RATE_SNAPSHOT": "2/m"}, environ={"PROFILING_SAMPLE_HZ": "47"}
    ).load()
    assert values["SAMPLE_HZ"] == 23.0 and values["RATE_SNAPSHOT"] == "2/m"


@pytest.mark.parametrize(
    ("user", "environ", "named"),
    [
        ({"SAMPLE_HZ": 0}, {}, "settings.PROFILING['SAMPLE_HZ']"),
        ({"ENABLED": "yes"}, {}, "settings.PROFILING['ENABLED']"),
        ({"RATE_DEFAULT": "100 per minute"}, {}, "settings.PROFILING['RATE_DEFAULT']"),
        ({"NO_SUCH_KEY": 1}, {}, "NO_SUCH_KEY"),
        ({}, {"PROFILING_MEMORY_INTERVAL_SECS": "abc"}, "PROFILING_MEMORY_INTERVAL_SECS"),
        ({}, {"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"MEMORY_WARNING_MB": 800}, {}, "PROFILING_MEMORY_WARNING_MB"),
        ({"SAMPLER_MAX_CPU_PERCENT": 0}, {}, "settings.PROFILING['SAMPLER_MAX_CPU_PERCENT']"),
        ({"SAMPLER_MAX_CPU_PERCENT": "1"}, {}, "settings.PROFILING['SAMPLER_MAX_CPU_PERCENT']"),
        ({}, {"PROFILING_SAMPLER_MAX_CPU_PERCENT": "101"}, "PROFILING_SAMPLER_MAX_CPU_PERCENT"),
    ],
)
def test_if_a_value_is_bad_then_loading_names_it(user, environ, named):
    with pytest.raises(ImproperlyConfigured, match=named.replace("[", r"\[").replace("]", r"\]")):
        ProfilingSettings(user_settings=user, environ=environ).load()


def test_relative_snapshot_dir_is_under_base_dir(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    settings.PROFILING = {"SNAPSHOT_DIR": "snaps"}
    assert profiling_settings.SNAPSHOT_DIR == Path(tmp_path) / "snaps"


def test_key_prefix_defaults_to_the_default_caches_prefix(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": "shop"}
    }
    assert profiling_settings.KEY_PREFIX == "shop"
    settings.PROFILING = {"KEY_PREFIX": "other"}
    assert profiling_settings.KEY_PREFIX == "other"


def test_changed_settings_are_read_again():
    with override_settings(PROFILING={"RATE_DEFAULT": "7/m"}):
        assert profiling_settings.rate_for("memory") == "7/m"
        assert profiling_settings.rate_for("snapshot") == "5/m"
    assert profiling_settings.rate_for("memory") == "100/m"


def test_unknown_attribute_is_an_error():
    with pytest.raises(AttributeError):
        profiling_settings.NOT_A_SETTING  # noqa: B018


@pytest.mark.parametrize(
    ("user", "environ", "budget"),
    [
        ({}, {}, 0.4),  # the default at the default rate
        ({}, {"PROFILING_SAMPLE_HZ": "110"}, 4.0),  # a raised rate raises the default budget
        ({"SAMPLE_HZ": 1000}, {}, 36.36),  # 0.4 % x 1000 / 11
        ({}, {"PROFILING_SAMPLE_HZ": "110", "PROFILING_SAMPLER_MAX_CPU_PERCENT": "0.25"}, 0.25),
        ({"SAMPLER_MAX_CPU_PERCENT": 100, "SAMPLE_HZ": 5}, {}, 100.0),
    ],
)
def test_the_samplers_cpu_budget_is_as_set_else_the_defaults_share_of_the_rate(user, environ, budget):
    from profiling.core.config import ProfilingConfig

    values = ProfilingSettings(user_settings=user, environ=environ).load()
    config = ProfilingConfig(
        sample_hz=values["SAMPLE_HZ"], sampler_max_cpu_percent=values["SAMPLER_MAX_CPU_PERCENT"]
    )
    assert config.sampler_max_cpu_percent == pytest.approx(budget, abs=0.01)

"""The app's settings: one object, a default for every key, read lazily.

In the spirit of DRF's `api_settings`: `profiling_settings.SAMPLE_HZ` is the value of
`settings.PROFILING["SAMPLE_HZ"]` when the host project sets it, else of the environment
variable named below (`PROFILING_SAMPLE_HZ`), else the default. Every value is validated
once, when first read (and by the app's system check, so `manage.py check` fails on a
bad one): a bad value raises `ImproperlyConfigured` naming the key or the variable.
Unknown keys in `settings.PROFILING` are errors. Tests that change `settings.PROFILING`
(pytest-django's `settings` fixture, `override_settings`) reload it.

This module and the standalone project's settings are the only readers of `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from profiling.core.config import DEFAULT_SAMPLE_HZ
from profiling.env import RATE_RE, Env

KIB = 1024


@dataclass(frozen=True)
class Setting:
    """One key of `settings.PROFILING`: its environment variable, default and parser."""

    env: str | None
    default: Any
    read: Callable[[Env, str, Any], Any]


def _bool(env: Env, name: str, default: bool) -> bool:
    return env.bool(name, default)


def _str(env: Env, name: str, default: str | None) -> str | None:
    value = env._raw(name)  # noqa: SLF001 - the helpers' own unset test
    return default if value is None else value


def _number(minimum: float, maximum: float) -> Callable[[Env, str, float], float]:
    def read(env: Env, name: str, default: float) -> float:
        return env.float(name, default, minimum=minimum, maximum=maximum)

    return read


def _whole(minimum: int, maximum: int) -> Callable[[Env, str, int], int]:
    def read(env: Env, name: str, default: int) -> int:
        return env.int(name, default, minimum=minimum, maximum=maximum)

    return read


def _rate(env: Env, name: str, default: str) -> str:
    return env.rate(name, default)


def _redis_url(env: Env, name: str, default: str | None) -> str | None:
    return env.url(name, schemes=("redis", "rediss", "unix")) or default


SETTINGS: dict[str, Setting] = {
    # false: no sampler threads at all; the profiling endpoints answer 503.
    "ENABLED": Setting("ENABLE_PROFILING", True, _bool),
    # Seconds between memory/CPU samples.
    "MEMORY_INTERVAL_SECS": Setting("PROFILING_MEMORY_INTERVAL_SECS", 5.0, _number(0.05, 3600)),
    # Seconds between background leak checks.
    "LEAK_CHECK_INTERVAL_SECS": Setting("PROFILING_LEAK_CHECK_INTERVAL_SECS", 300.0, _number(0.05, 86400)),
    "MEMORY_WARNING_MB": Setting("PROFILING_MEMORY_WARNING_MB", 650.0, _number(1, 1 << 30)),
    "MEMORY_ALERT_MB": Setting("PROFILING_MEMORY_ALERT_MB", 700.0, _number(1, 1 << 30)),
    # Detailed CPU profiling, which costs more than the default budget.
    "FULL": Setting("PROFILING_FULL", False, _bool),
    # Stack samples a second for the bottlenecks and flame graphs.
    "SAMPLE_HZ": Setting("PROFILING_SAMPLE_HZ", DEFAULT_SAMPLE_HZ, _number(1, 1000)),
    # The stack sampler's own CPU budget, % of the process's CPU: past it, it skips ticks (100: none).
    # None: DEFAULT_SAMPLER_CPU_PERCENT at the default rate, in proportion to SAMPLE_HZ.
    "SAMPLER_MAX_CPU_PERCENT": Setting("PROFILING_SAMPLER_MAX_CPU_PERCENT", None, _number(0.01, 100)),
    # Relative paths are under settings.BASE_DIR when the host defines it, else the
    # working directory.
    "SNAPSHOT_DIR": Setting("PROFILING_SNAPSHOT_DIR", "var/snapshots", _str),
    "SNAPSHOT_MAX_COUNT": Setting("PROFILING_SNAPSHOT_MAX_COUNT", 20, _whole(1, 10000)),
    "SNAPSHOT_MAX_TOTAL_MB": Setting("PROFILING_SNAPSHOT_MAX_TOTAL_MB", 512.0, _number(1, 1048576)),
    "METRICS_PUBLIC": Setting("PROFILING_METRICS_PUBLIC", False, _bool),
    # Throttles, per client and endpoint; every endpoint without its own rate has the default.
    "RATE_DEFAULT": Setting("PROFILING_RATE_DEFAULT", "100/m", _rate),
    "RATE_LEAK_DETECTION": Setting("PROFILING_RATE_LEAK_DETECTION", "10/m", _rate),
    "RATE_SNAPSHOT": Setting("PROFILING_RATE_SNAPSHOT", "5/m", _rate),
    # Dashboard login attempts per client address and per username.
    "LOGIN_RATE": Setting("DJANGO_LOGIN_RATE", "10/m", _rate),
    # Set: every process publishes into Redis and one dashboard shows them all.
    "REDIS_URL": Setting("REDIS_URL", None, _redis_url),
    # With REDIS_URL: how long a request for another instance waits before 504.
    "INSTANCE_TIMEOUT_SECS": Setting("PROFILING_INSTANCE_TIMEOUT_SECS", 10.0, _number(0.1, 120)),
    # Namespaces the Redis keys and channel groups; None: the default cache's KEY_PREFIX.
    "KEY_PREFIX": Setting(None, None, _str),
    # Request bodies to the profiling paths bigger than this are refused with a 413.
    "MAX_BODY_BYTES": Setting(None, 64 * KIB, _whole(1, 1 << 30)),
    # false: the server entry point's wrap() never starts the profiler by itself (the
    # first request still does).
    "AUTOSTART": Setting("PROFILING_AUTOSTART", True, _bool),
}
# Numbers whose default (None) is worked out from other settings.
OPTIONAL_NUMBERS = frozenset({"SAMPLER_MAX_CPU_PERCENT"})
RATE_SCOPES = {
    "default": "RATE_DEFAULT",
    "leak_detection": "RATE_LEAK_DETECTION",
    "snapshot": "RATE_SNAPSHOT",
}


def _check_type(key: str, value: Any, default: Any) -> Any:
    """Validate a value given in settings.PROFILING (already Python, not text)."""
    where = f"settings.PROFILING[{key!r}]"
    if key == "REDIS_URL" or key == "KEY_PREFIX" or key == "SNAPSHOT_DIR":
        if value is None or isinstance(value, (str, Path)) and str(value).strip():
            return value
        raise ImproperlyConfigured(f"{where} must be a non-empty string or None")
    if key in OPTIONAL_NUMBERS:
        if value is None:
            return None
        default = 0.0  # checked as a number below
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ImproperlyConfigured(f"{where}={value!r} must be True or False")
    if isinstance(default, str):
        if isinstance(value, str) and RATE_RE.match(value) and int(RATE_RE.match(value).group(1)) > 0:
            return value
        raise ImproperlyConfigured(f"{where}={value!r} is not a rate; use COUNT/PERIOD such as 100/m")
    if isinstance(default, (int, float)) and not isinstance(value, bool) and isinstance(value, (int, float)):
        # Reuse the environment parser's range checks on the value's text.
        reader = SETTINGS[key].read
        try:
            return reader(Env({"V": str(value)}), "V", default)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(str(exc).replace("V=", f"{where}=", 1)) from None
    raise ImproperlyConfigured(f"{where}={value!r} has the wrong type")


class ProfilingSettings:
    """`settings.PROFILING` over the environment over the defaults, validated on first use."""

    def __init__(
        self, user_settings: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ):
        self._user_settings = user_settings
        self._environ = environ
        self._values: dict[str, Any] | None = None

    def _user(self) -> Mapping[str, Any]:
        if self._user_settings is not None:
            return self._user_settings
        from django.conf import settings

        value = getattr(settings, "PROFILING", {})
        if not isinstance(value, Mapping):
            raise ImproperlyConfigured("settings.PROFILING must be a dict")
        return value

    def load(self) -> dict[str, Any]:
        """Read and validate every key; raise ImproperlyConfigured naming the first bad one."""
        if self._values is not None:
            return self._values
        user = self._user()
        unknown = sorted(set(user) - set(SETTINGS))
        if unknown:
            raise ImproperlyConfigured(
                f"settings.PROFILING has unknown keys: {', '.join(unknown)} (known: {', '.join(SETTINGS)})"
            )
        env = Env(os.environ if self._environ is None else self._environ)
        values: dict[str, Any] = {}
        for key, setting in SETTINGS.items():
            if key in user:
                values[key] = _check_type(key, user[key], setting.default)
            elif setting.env is not None:
                values[key] = setting.read(env, setting.env, setting.default)
            else:
                values[key] = setting.default
        if values["MEMORY_WARNING_MB"] > values["MEMORY_ALERT_MB"]:
            raise ImproperlyConfigured(
                f"PROFILING_MEMORY_WARNING_MB={values['MEMORY_WARNING_MB']:g} is above "
                f"PROFILING_MEMORY_ALERT_MB={values['MEMORY_ALERT_MB']:g}; the warning must come first"
            )
        values["SNAPSHOT_DIR"] = _resolve_dir(values["SNAPSHOT_DIR"])
        if values["KEY_PREFIX"] is None:
            values["KEY_PREFIX"] = _default_cache_prefix()
        self._values = values
        return values

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key not in SETTINGS:
            raise AttributeError(f"no profiling setting {key!r}")
        return self.load()[key]

    def rate_for(self, scope: str) -> str:
        """The throttle rate of an endpoint scope: its own or the default one."""
        return self.load()[RATE_SCOPES.get(scope, "RATE_DEFAULT")]

    def reload(self) -> None:
        self._values = None


def _resolve_dir(value: str | Path) -> Path:
    path = Path(value)
    if path.is_absolute():
        return path
    from django.conf import settings

    base = getattr(settings, "BASE_DIR", None)
    return (Path(base) if base is not None else Path.cwd()) / path


def _default_cache_prefix() -> str:
    from django.conf import settings

    caches = getattr(settings, "CACHES", {}) or {}
    return str(caches.get("default", {}).get("KEY_PREFIX", "") or "")


profiling_settings = ProfilingSettings()

# Settings that change what the app reads.
_WATCHED = {"PROFILING", "CACHES", "BASE_DIR"}


def _reload(*, setting: str, **kwargs) -> None:
    if setting in _WATCHED:
        profiling_settings.reload()


setting_changed.connect(_reload)

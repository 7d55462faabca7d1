"""Typed, validated reading of environment variables.

The app's settings (profiling/settings.py) and the standalone project's settings read
the environment through these helpers; every failure raises `ImproperlyConfigured`
naming the variable, so a bad value stops start-up and makes `manage.py check` fail.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# The rate grammar django-ratelimit accepts: a count, a slash, an optional
# multiplier and a period (s, m, h, d).
RATE_RE = re.compile(r"^(\d+)/(\d*)(s|sec|m|min|h|hour|d|day)$")


class Env:
    """Read typed values from an environment mapping, naming the variable on error."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value if value != "" else None

    def str(self, name: str, default: str) -> str:
        value = self._raw(name)
        return default if value is None else value

    def bool(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false")

    def float(
        self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
        if not math.isfinite(number):
            raise ImproperlyConfigured(f"{name}={value!r} is not a finite number")
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum:g}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}={value!r} must be at most {maximum:g}")
        return number

    def int(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}={value!r} must be at most {maximum}")
        return number

    def rate(self, name: str, default: str) -> str:
        value = self._raw(name)
        if value is None:
            return default
        match = RATE_RE.match(value)
        if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
            raise ImproperlyConfigured(
                f"{name}={value!r} is not a rate; use COUNT/PERIOD such as 100/m, 10/s or 500/h"
            )
        return value

    def list(self, name: str, default: list[str]) -> list[str]:
        value = self._raw(name)
        if value is None:
            return list(default)
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise ImproperlyConfigured(f"{name}={value!r} names no value")
        return items

    def url(self, name: str, *, schemes: tuple[str, ...]) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in schemes:
            raise ImproperlyConfigured(f"{name}: the URL scheme must be one of {', '.join(schemes)}")
        return value

"""What the dashboard tests share: the staff login, page watching, polling from Python."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

USERNAME, PASSWORD = "e2e-staff", "e2e-password-not-secret"


class PageWatch:
    """Record console errors, page errors and every request the page makes."""

    def __init__(self, page, base_url: str):
        self.origin = urlsplit(base_url).netloc
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        self.errors.append(f"console error: {message.text} ({url})")

    def _request(self, request) -> None:
        if urlsplit(request.url).netloc != self.origin:
            self.foreign.append(request.url)

    def assert_clean(self) -> None:
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        assert not self.errors, "\n".join(self.errors)


def log_in(browser, server):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(15_000)
    watch = PageWatch(page, server.base_url)
    page.goto(server.base_url + "/")
    assert urlsplit(page.url).path == "/profiling/login/"
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.base_url + "/")
    return page, watch


def points(page, chart_id: str) -> int:
    return page.evaluate(f"document.getElementById({chart_id!r}).data[0].x.length")


def wait_until(condition, what: str, timeout: float = 15.0) -> None:
    """Poll `condition()` from Python: the page's CSP forbids the eval behind wait_for_function."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def create_staff_user(server) -> None:
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({USERNAME!r}, password={PASSWORD!r}, is_staff=True)",
    )

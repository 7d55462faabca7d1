"""The dashboard page, its login and logout, and Plotly served from the installed package."""

from __future__ import annotations

from pathlib import Path

import plotly
import pytest
from django.test import Client, override_settings

SPEC_IDS = [
    "memory-chart",
    "cpu-chart",
    "status-badge",
    "connection-status",
    "leak-detection-button",
    "leak-report",
    "snapshot-button",
    "snapshot-result",
    "endpoints",
    "bottlenecks",
    "allocations",
    "instance-select",
    "instance-list",
    "flamegraph-diff",
    "diff-pick",
    "diff-clear",
    "diff-windows",
    "diff-table",
    "diff-chart",
]


@pytest.fixture
def staff_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def test_dashboard_redirects_anonymous_to_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/profiling/login/?next=/"


def test_dashboard_redirects_non_staff_user_to_login(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("plain", password="pw-for-tests-only"))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/profiling/login/")


def test_dashboard_renders_spec_element_ids_for_staff(staff_client, profiler):
    response = staff_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for element_id in SPEC_IDS:
        assert html.count(f'id="{element_id}"') == 1, element_id
    assert 'data-status="' in html and 'data-state="closed"' in html
    assert profiler.instance in html
    assert "/profiling/assets/plotly.min.js?v=" in html


def test_dashboard_page_has_no_inline_script_or_style(staff_client, profiler):
    html = staff_client.get("/").content.decode()
    assert "<script>" not in html and "<style" not in html and "style=" not in html
    assert "http://" not in html and "https://" not in html  # nothing from other hosts


def test_dashboard_sets_csrf_cookie_for_the_buttons(staff_client, profiler):
    response = staff_client.get("/")
    assert "csrftoken" in response.cookies


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_plotly_bundle_is_served_locally_from_the_installed_package(db):
    from profiling.views.assets import asset_url

    url = asset_url("plotly.min.js")
    response = Client().get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "immutable" in response["Cache-Control"]  # the URL carries the content's hash
    assert _body(response) == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def test_the_app_serves_its_own_files_and_nothing_else(db):
    from profiling.views.assets import STATIC_DIR

    script = Client().get("/profiling/assets/dashboard.js")
    assert script.status_code == 200 and script["Cache-Control"] == "no-cache"  # no hash: revalidate
    assert _body(script) == (STATIC_DIR / "dashboard.js").read_bytes()
    for name in ["settings.py", "..%2Fsettings.py", "dashboard.html", "favicon.ico"]:
        assert Client().get(f"/profiling/assets/{name}").status_code == 404


def test_login_lets_staff_in(staff_user):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "staff", "password": "pw-for-tests-only", "next": "/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_login_refuses_non_staff_user(django_user_model):
    django_user_model.objects.create_user("plain", password="pw-for-tests-only")
    response = Client().post("/accounts/login/", {"username": "plain", "password": "pw-for-tests-only"})
    assert response.status_code == 200
    assert "_auth_user_id" not in Client().session
    assert b"staff account" in response.content


@override_settings(PROFILING={"LOGIN_RATE": "3/m"})
def test_login_attempts_are_rate_limited_per_address(staff_user):
    client = Client()
    for n in range(3):
        response = client.post("/accounts/login/", {"username": f"user{n}", "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": "staff", "password": "pw-for-tests-only"})
    assert response.status_code == 429
    assert b"Too many login attempts" in response.content
    assert "_auth_user_id" not in client.session


@override_settings(PROFILING={"LOGIN_RATE": "3/m"})
def test_login_rate_limit_ignores_forwarded_for(staff_user):
    client = Client()
    for n in range(3):
        client.post(
            "/accounts/login/", {"username": f"u{n}", "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        )
    response = client.post(
        "/accounts/login/", {"username": "u9", "password": "x"}, HTTP_X_FORWARDED_FOR="10.9.9.9"
    )
    assert response.status_code == 429


@override_settings(PROFILING={"LOGIN_RATE": "3/m"})
def test_login_attempts_are_rate_limited_per_username(staff_user):
    for n in range(3):
        Client(REMOTE_ADDR=f"10.0.0.{n}").post("/accounts/login/", {"username": "Staff", "password": "wrong"})
    response = Client(REMOTE_ADDR="10.0.1.1").post(
        "/accounts/login/", {"username": "staff", "password": "pw-for-tests-only"}
    )
    assert response.status_code == 429


def test_logout_ends_the_session(staff_client, profiler):
    response = staff_client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/profiling/login/"
    assert staff_client.get("/").status_code == 302


def test_ensure_demo_user_creates_staff_user_once(db, django_user_model):
    from io import StringIO

    from django.core.management import call_command

    first, second = StringIO(), StringIO()
    call_command("ensure_demo_user", stdout=first)
    call_command("ensure_demo_user", stdout=second)
    user = django_user_model.objects.get(username="demo")
    password = first.getvalue().split("password: ")[1].split()[0]
    assert user.is_staff and user.check_password(password)
    assert password not in second.getvalue()

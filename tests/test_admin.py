"""The ops person's view: keys created, shown once, revoked in the admin."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from profiling.models import ProfilingAPIKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "storage",
    [
        "django.contrib.messages.storage.session.SessionStorage",
        # Django's default, which a host project may keep: messages in a readable cookie.
        "django.contrib.messages.storage.fallback.FallbackStorage",
    ],
)
def test_admin_shows_a_new_key_once_and_never_in_a_cookie(
    admin_client_logged_in, profiler, settings, storage
):
    settings.MESSAGE_STORAGE = storage
    response = admin_client_logged_in.post(
        "/admin/profiling/profilingapikey/add/",
        {"name": "grafana", "expiry_date_0": "", "expiry_date_1": ""},
    )
    obj = ProfilingAPIKey.objects.get(name="grafana")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/profiling/profilingapikey/{obj.pk}/change/"
    page_response = admin_client_logged_in.get(response["Location"])
    page = page_response.content.decode()
    assert 'id="new-api-key"' in page and "The API key for grafana is: <code>" in page
    key = page.split("The API key for grafana is: <code>")[1].split("</code>")[0]
    assert key.startswith(obj.prefix + ".")
    for cookies in (response.cookies, page_response.cookies, admin_client_logged_in.cookies):
        assert all(key not in morsel.value for morsel in cookies.values())
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    assert client.get("/api/profiling/memory").status_code == 200
    again = admin_client_logged_in.get(response["Location"]).content.decode()
    assert "The API key for grafana is" not in again and key not in again


def test_admin_revoke_action_refuses_the_key_at_once(admin_client_logged_in, make_key, profiler):
    obj, key = make_key("to-revoke")
    response = admin_client_logged_in.post(
        "/admin/profiling/profilingapikey/",
        {"action": "revoke_keys", "_selected_action": [obj.pk]},
    )
    assert response.status_code == 302
    assert ProfilingAPIKey.objects.get(pk=obj.pk).revoked
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    assert client.get("/api/profiling/memory").status_code == 401


def test_admin_needs_a_login(client):
    response = client.get("/admin/profiling/profilingapikey/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]

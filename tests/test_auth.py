"""Who may call the API: keys (header or Bearer), staff sessions; everyone else 401/403."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URL = "/api/profiling/memory"


def test_if_no_key_then_401_with_challenge(anon_client, profiler):
    response = anon_client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("APIKey")
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("kind", ["unknown", "malformed", "revoked", "expired", "too_long"])
def test_if_key_is_not_usable_then_401(kind, make_key, profiler):
    key = {
        "unknown": lambda: "AbCdEfGh.notarealsecretnotarealsecret00",
        "malformed": lambda: "no-dot-in-this-key",
        "revoked": lambda: make_key("r", revoked=True)[1],
        "expired": lambda: make_key("e", expired=True)[1],
        "too_long": lambda: "x" * 5000,
    }[kind]()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    response = client.get(URL)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    assert response.json()["detail"] == "Invalid, expired or revoked API key."


def test_if_key_is_valid_then_200(client_with_key, profiler):
    assert client_with_key.get(URL).status_code == 200


def test_if_key_is_revoked_after_use_then_refused_at_once(make_key, profiler):
    obj, key = make_key("soon-revoked")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    assert client.get(URL).status_code == 200
    obj.revoked = True
    obj.save()
    assert client.get(URL).status_code == 401


def test_bearer_token_is_accepted(api_key, profiler):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert client.get(URL).status_code == 200


def test_staff_session_is_accepted(staff_user, profiler):
    client = APIClient()
    client.force_login(staff_user)
    assert client.get(URL).status_code == 200


def test_non_staff_session_is_403(django_user_model, profiler):
    user = django_user_model.objects.create_user("plain", password="pw-for-tests-only")
    client = APIClient()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 403
    assert response.json() == {"detail": "Staff access or an API key is required."}

import re

import pytest

pytestmark = pytest.mark.django_db


def test_schema_documents_every_profiling_endpoint(anon_client):
    response = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/profiling/memory" in paths
    assert "/api/profiling/cpu" in paths
    memory = schema["components"]["schemas"]["Memory"]["properties"]
    assert memory["rss_mb"]["type"] == "number"
    enum_name = memory["threshold_status"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][enum_name]["enum"] == ["normal", "warning", "critical"]
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    for name, component in schema["components"]["schemas"].items():
        for field, spec in component.get("properties", {}).items():
            assert "type" in spec or "$ref" in spec or "allOf" in spec or "enum" in spec or "oneOf" in spec, (
                f"{name}.{field} is untyped"
            )


def test_swagger_ui_is_served_offline(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)
    assert external == []
    assert "swagger-ui" in html

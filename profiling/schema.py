"""OpenAPI details drf-spectacular cannot infer: our auth schemes and canonical paths."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "profiling.authentication.APIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class StaffSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "profiling.authentication.StaffSessionAuthentication"
    name = "cookieAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


def canonical_paths(result, generator, request, public):
    """Routes accept an optional trailing slash; document them without it, as the API does."""
    result["paths"] = {
        (path.rstrip("/") if path.startswith("/api/profiling/") else path): item
        for path, item in result["paths"].items()
    }
    return result

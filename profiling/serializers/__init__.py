"""Response shapes of the API, for the OpenAPI schema (every field typed)."""

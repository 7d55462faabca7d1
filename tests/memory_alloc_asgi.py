"""The project's ASGI application plus the `/memtest/...` views of tests/memory_alloc_views.py (tests only)."""

# ruff: noqa: I001, E402  (Django is set up by the ASGI module before the URLs can be imported)
from riptide_dashboard.asgi import application  # noqa: F401  (starts the profiler)

from django.urls import clear_url_caches, path

from riptide_dashboard import urls
from tests import memory_alloc_views as views

urls.urlpatterns[:0] = [
    path(f"memtest/{name}", getattr(views, name)) for name in ("allocate", "remember", "churn", "burn")
]
clear_url_caches()

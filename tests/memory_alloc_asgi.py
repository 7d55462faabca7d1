"""The project's ASGI application plus `/memtest/allocate?bytes=N`, a view that keeps N bytes (tests only)."""

# ruff: noqa: I001, E402  (Django is set up by the ASGI module before the URLs can be imported)
from riptide_dashboard.asgi import application  # noqa: F401  (starts the profiler)

from django.urls import clear_url_caches, path

from riptide_dashboard import urls
from tests.memory_alloc_views import allocate

urls.urlpatterns.insert(0, path("memtest/allocate", allocate))
clear_url_caches()

from django.apps import AppConfig


class ProfilingConfig(AppConfig):
    name = "profiling"
    verbose_name = "Profiling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Nothing starts here: ready() runs for every management command; the server entry
        # points (profiling.asgi.wrap, profiling.wsgi.wrap) start the profiler.
        from profiling import checks, schema  # noqa: F401  (system checks, OpenAPI auth extensions)

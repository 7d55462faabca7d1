from django.apps import AppConfig


class ProfilingConfig(AppConfig):
    name = "profiling"
    verbose_name = "Profiling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from profiling import schema  # noqa: F401  (registers the OpenAPI auth extensions)

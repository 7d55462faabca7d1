from django.apps import AppConfig


class WorkloadConfig(AppConfig):
    name = "bench.workload"
    label = "bench_workload"
    verbose_name = "Benchmark workload"
    default_auto_field = "django.db.models.BigAutoField"

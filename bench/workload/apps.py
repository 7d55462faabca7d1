import os

from django.apps import AppConfig

# The benchmark's peer arm: Grafana Pyroscope's in-process agent (pyroscope-io) in the
# same server, sampling this many times a second. Its server address is a closed port
# on loopback, so every upload fails at once and harmlessly (nothing listens, nothing
# is sent anywhere); the agent keeps sampling and aggregating as it would in production.
PYROSCOPE_HZ_ENV = "RIPTIDE_BENCH_PYROSCOPE_HZ"
PYROSCOPE_UNREACHABLE = "http://127.0.0.1:9"


class WorkloadConfig(AppConfig):
    name = "bench.workload"
    label = "bench_workload"
    verbose_name = "Benchmark workload"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        hz = os.environ.get(PYROSCOPE_HZ_ENV)
        if hz:
            import pyroscope

            pyroscope.configure(
                application_name="riptide-bench",
                server_address=PYROSCOPE_UNREACHABLE,
                sample_rate=int(hz),
                enable_logging=False,
            )

"""The ASGI entry point: imported by servers only, so the profiler starts here.

Daphne and Channels have no ASGI lifespan and AppConfig.ready() runs for every
management command, so the per-process runtime is started when a server imports
this module, and again (lazily, on the next connection) in a forked child.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riptide_dashboard.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from profiling.asgi_limits import BodySizeLimitMiddleware  # noqa: E402
from profiling.conf import runtime  # noqa: E402
from profiling.routing import build_application  # noqa: E402

profiler = runtime()
profiler.ensure_running()

if settings.DEMO:  # `make demo`: a synthetic crawler workload inside this server
    from demo import start_workload

    start_workload()

application = BodySizeLimitMiddleware(
    build_application(django_application, profiler), max_bytes=settings.MAX_REQUEST_BODY_BYTES
)

"""The standalone deployment's ASGI entry point: the app wrapped as in any host project.

`profiling.asgi.wrap()` starts the profiler when a server imports this module (management
commands and tests never do), and again in a forked child on its first request.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riptide_dashboard.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

import profiling.asgi  # noqa: E402
from profiling.asgi_limits import BodySizeLimitMiddleware  # noqa: E402

if settings.DEMO:  # `make demo`: a synthetic crawler workload inside this server
    from demo import start_workload

    start_workload()

# The app limits bodies on its own paths; this project takes no big body anywhere.
application = BodySizeLimitMiddleware(
    profiling.asgi.wrap(django_application), max_bytes=settings.MAX_REQUEST_BODY_BYTES
)

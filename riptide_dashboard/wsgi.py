"""The standalone deployment's WSGI entry point (gunicorn; the dashboard then polls)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riptide_dashboard.settings")

import profiling.wsgi  # noqa: E402

application = profiling.wsgi.wrap(get_wsgi_application())

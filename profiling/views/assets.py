"""The dashboard's own files (its script, styles and icon, and Plotly's plotly.min.js).

The app serves them itself, from the installed package, so the dashboard works in a host
project whatever its static-files setup (gunicorn or uvicorn without whitenoise, no
collectstatic, no STATICFILES_FINDERS entry for Plotly). Only these names are served; each
URL carries a hash of the file's content, so browsers may cache it for good.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import plotly
from django.http import FileResponse, Http404
from django.urls import reverse
from django.views.decorators.http import require_GET

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "profiling"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"

ASSETS: dict[str, tuple[Path, str]] = {
    "dashboard.js": (STATIC_DIR / "dashboard.js", "text/javascript; charset=utf-8"),
    "dashboard.css": (STATIC_DIR / "dashboard.css", "text/css; charset=utf-8"),
    "favicon.svg": (STATIC_DIR / "favicon.svg", "image/svg+xml"),
    "plotly.min.js": (PLOTLY_JS, "text/javascript; charset=utf-8"),
}
ONE_YEAR = 365 * 24 * 3600


@cache
def content_hash(name: str) -> str:
    path, _ = ASSETS[name]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def asset_url(name: str) -> str:
    """The URL of one of the dashboard's files, with its content hash."""
    return f"{reverse('profiling:asset', args=[name])}?v={content_hash(name)}"


@require_GET
def asset(request, name: str):
    found = ASSETS.get(name)
    if found is None:
        raise Http404("No such file.")
    path, content_type = found
    response = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115 - closed by the response
    if request.GET.get("v") == content_hash(name):
        response["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    else:
        response["Cache-Control"] = "no-cache"
    return response

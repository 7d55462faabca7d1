"""Serve Plotly's own plotly.min.js (from the installed plotly package) as a static file."""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_FILE = "plotly.min.js"
PREFIX = "vendor/plotly"
STATIC_PATH = f"{PREFIX}/{PLOTLY_FILE}"  # what templates pass to {% static %}


class PlotlyFinder(BaseFinder):
    """A static files finder for exactly one file: vendor/plotly/plotly.min.js."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(PLOTLY_DIR))
        self.storage.prefix = PREFIX

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != STATIC_PATH:
            return [] if find_all else None
        found = str(PLOTLY_DIR / PLOTLY_FILE)
        return [found] if find_all else found

    def list(self, ignore_patterns):
        yield PLOTLY_FILE, self.storage

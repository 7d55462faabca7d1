"""One wheel, one fresh venv and one generated host project per test session."""

from __future__ import annotations

import pytest

from tests.integration.hostproject import build_wheel, create_host_project, make_venv


@pytest.fixture(scope="session")
def host_project(tmp_path_factory):
    """`django-admin startproject mysite` with the profiler added as documented; migrated, one API key."""
    base = tmp_path_factory.mktemp("host")
    wheel = build_wheel(base / "build")
    venv = make_venv(base / "venv", wheel)
    for note in venv.notes:
        print(note)
    return create_host_project(base / "project", venv)

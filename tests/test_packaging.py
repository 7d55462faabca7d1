"""The riptide-profiler wheel and the lock files: what a user installs and what make and CI install.

The wheel is built from a copy of the working tree's files (tracked, plus new ones git does
not ignore), so a stale build/ in the checkout can never leak into it and nothing is left
behind; the files it must hold are read from git, so the test follows files as they move.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
RUNTIME_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"

# The extras requirements.txt serves `make run` with; requirements-dev.txt adds "dev".
RUNTIME_LOCK_EXTRAS = ("redis", "standalone")
APP_NEEDS = (
    "django",
    "djangorestframework",
    "djangorestframework-api-key",
    "channels",
    "psutil",
    "plotly",
    "django-ratelimit",
    "prometheus-client",
    "drf-spectacular",
)
TEST_TOOLS = (
    "pytest",
    "pytest-django",
    "pytest-asyncio",
    "pytest-timeout",
    "pyyaml",
    "httpx",
    "websockets",
    "playwright",
    "schemathesis",
    "hypothesis",
    "ruff",
    "gunicorn",
    "uvicorn",
    "build",
)
NOT_IN_WHEEL = ("riptide_dashboard/", "bench/", "demo/", "tests/", "templates/", "static/")
LOCK_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s\\;]+)(?P<rest>.*)$")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def git_files(*paths: str) -> list[str]:
    """Files of the working tree that git tracks under `paths` (deleted ones left out)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return sorted(name for name in out.split("\0") if name and (ROOT / name).is_file())


def build_backend_is_installed() -> bool:
    """Whether this environment's setuptools satisfies [build-system] (then no isolated build)."""
    try:
        installed = Version(importlib.metadata.version("setuptools"))
    except importlib.metadata.PackageNotFoundError:
        return False
    return all(
        Requirement(req).specifier.contains(installed) for req in PYPROJECT["build-system"]["requires"]
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    dest = tmp_path_factory.mktemp("wheel")
    source = dest / "source"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # With the dev lock's setuptools the build takes a second and needs no index.
    isolation = ["--no-build-isolation"] if build_backend_is_installed() else []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            *isolation,
            "-w",
            dest / "out",
            source,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = list((dest / "out").glob("*.whl"))
    assert len(built) == 1, built
    with zipfile.ZipFile(built[0]) as archive:
        yield archive


def wheel_metadata(wheel: zipfile.ZipFile):
    (name,) = [n for n in wheel.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def test_wheel_is_riptide_profiler_at_the_project_version(wheel):
    metadata = wheel_metadata(wheel)

    assert metadata["Name"] == "riptide-profiler"
    assert metadata["Version"] == PROJECT["version"]
    assert Path(wheel.filename).name.startswith(f"riptide_profiler-{PROJECT['version']}-py3-none-any")
    assert metadata["Requires-Python"] == ">=3.11"


def test_wheel_holds_migrations_and_management_commands(wheel):
    names = set(wheel.namelist())

    assert "profiling/migrations/0001_initial.py" in names
    assert "profiling/migrations/__init__.py" in names
    assert "profiling/management/commands/create_api_key.py" in names
    assert "profiling/management/commands/revoke_api_key.py" in names


def test_wheel_holds_every_tracked_template_and_static_file(wheel):
    expected = git_files("profiling/templates", "profiling/static")

    assert expected, "git tracks no file under profiling/templates or profiling/static"
    assert sorted(set(expected) - set(wheel.namelist())) == []


def test_wheel_holds_every_tracked_module_of_the_app(wheel):
    """A subpackage without __init__.py would be left out silently: every module must be there."""
    expected = [name for name in git_files("profiling") if name.endswith(".py")]

    assert sorted(set(expected) - set(wheel.namelist())) == []


def test_wheel_holds_only_the_profiling_package(wheel):
    names = wheel.namelist()
    tops = {name.split("/", 1)[0] for name in names}

    assert tops == {"profiling", f"riptide_profiler-{PROJECT['version']}.dist-info"}
    assert [n for n in names if n.startswith(NOT_IN_WHEEL)] == []
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []


def test_wheel_requires_the_runtime_and_keeps_test_tools_in_extras(wheel):
    requires = [Requirement(line) for line in wheel_metadata(wheel).get_all("Requires-Dist")]
    unconditional = {canonicalize_name(r.name) for r in requires if r.marker is None}
    in_extras = {canonicalize_name(r.name) for r in requires if r.marker is not None}

    assert set(APP_NEEDS) <= unconditional
    assert unconditional.isdisjoint(TEST_TOOLS)
    assert {"channels-redis", "redis", "daphne", "whitenoise", "dj-database-url", "psycopg"} <= in_extras
    assert {"daphne", "whitenoise", "dj-database-url", "psycopg", "redis"}.isdisjoint(unconditional)
    assert requires and all(r.marker is None or "extra ==" in str(r.marker) for r in requires)


def lock_entries(path: Path) -> dict[str, tuple[str, str]]:
    """{canonical name: (version, the rest of the entry)} of a pip-compile lock, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    entries = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = LOCK_ENTRY.match(line)
        assert match, f"{path.name}: not an exact pin: {line!r}"
        name = canonicalize_name(match["name"])
        assert name not in entries, f"{path.name}: {name} pinned twice"
        entries[name] = (match["version"], match["rest"])
    return entries


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_lock_pins_every_requirement_exactly_with_hashes(lock):
    entries = lock_entries(lock)

    assert entries
    for name, (version, rest) in entries.items():
        assert "[" not in name and ";" not in rest, f"{lock.name}: {name} carries extras or markers"
        hashes = HASH.findall(rest)
        assert hashes, f"{lock.name}: {name}=={version} has no sha256 hash"
        assert HASH.sub("", rest).strip() == "", f"{lock.name}: {name}=={version}: unexpected {rest!r}"


def declared(*extras: str) -> list[Requirement]:
    requirements = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        requirements += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return requirements


def assert_lock_satisfies(lock: Path, requirements: list[Requirement]) -> None:
    entries = lock_entries(lock)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{lock.name} does not pin {requirement}"
        assert requirement.specifier.contains(entries[name][0], prereleases=True), (
            f"{lock.name} pins {name}=={entries[name][0]} outside pyproject's {requirement}"
        )
        for extra in requirement.extras:  # psycopg[binary] needs psycopg-binary pinned too
            assert canonicalize_name(f"{name}-{extra}") in entries or extra == "standard", (
                f"{lock.name} lacks what {requirement} brings"
            )


def test_runtime_lock_holds_the_runtime_and_its_extras_in_pyproject_ranges():
    assert_lock_satisfies(RUNTIME_LOCK, declared(*RUNTIME_LOCK_EXTRAS))
    # PyYAML is also what drf-spectacular needs at run time: every other test tool stays out.
    assert set(lock_entries(RUNTIME_LOCK)).isdisjoint(set(TEST_TOOLS) - {"pyyaml"})


def test_dev_lock_holds_everything_with_the_runtime_lock_pins():
    runtime = lock_entries(RUNTIME_LOCK)
    dev = lock_entries(DEV_LOCK)

    assert_lock_satisfies(DEV_LOCK, declared(*PYPROJECT["project"]["optional-dependencies"]))
    assert {name: dev.get(name, (None,))[0] for name in runtime} == {n: v for n, (v, _) in runtime.items()}
    assert set(TEST_TOOLS) <= set(dev)
    # uvicorn[standard]: its websocket and event-loop packages
    assert {"websockets", "httptools", "uvloop"} <= set(dev)

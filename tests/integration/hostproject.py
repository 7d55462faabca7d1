"""A user's own Django project with the profiler added the documented way, and its servers.

Everything here does what a user does: build the wheel from this checkout, install it into
a fresh virtualenv with the servers a user runs, `django-admin startproject mysite`, apply
the integration steps by editing the generated files, and serve the project with gunicorn,
uvicorn or Daphne on 127.0.0.1. Servers are stopped by their pid (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
LOCK_FILES = ("requirements.txt", "requirements-dev.txt")
SERVER_PACKAGES = ("gunicorn", "uvicorn[standard]", "daphne")

HOT_FUNCTION = "hostapp.work.crunch"
HOT_FUNCTION_FILE = "hostapp/work.py"
LEAK_MODULE = "hostapp.leak"
SUPERUSER, SUPERUSER_PASSWORD = "host-admin", "host-admin-password-not-secret"

# Inherited variables that would make the host project something else than a fresh one.
_FOREIGN_ENV = re.compile(
    r"^(PYTHON(PATH|HOME|STARTUP)|VIRTUAL_ENV|DJANGO_.*|PROFILING_.*|ENABLE_PROFILING|REDIS_URL|DATABASE_URL|PYTEST_.*)$"
)


def run(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run a command; on failure raise with everything it printed."""
    result = subprocess.run(
        [str(part) for part in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_wheel(dest: Path) -> Path:
    """Build the checkout's wheel (the working tree as it is) into `dest`; return its path.

    The build runs on a copy of the tree, so no build/ or *.egg-info lands in the checkout.
    """
    source = dest / "source"
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.is_file():
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    wheels = dest / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, source], timeout=300)
    built = sorted(wheels.glob("riptide_profiler-*.whl"))
    if len(built) != 1:
        raise RuntimeError(f"expected one riptide_profiler wheel, found {[p.name for p in wheels.iterdir()]}")
    return built[0]


@dataclass
class HostVenv:
    path: Path
    notes: list[str] = field(default_factory=list)

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    @property
    def python(self) -> Path:
        return self.bin("python")


def lock_pins(dest: Path) -> Path | None:
    """The exact versions of the repository's lock files as a constraints file, or None without locks.

    pip turns on hash-checking for every requirement as soon as a constraint carries a hash,
    and a freshly built wheel has none to check; so the pins are taken without their hashes.
    """
    pins: dict[str, str] = {}
    for lock in LOCK_FILES:
        if not (ROOT / lock).exists():
            continue
        for line in (ROOT / lock).read_text().splitlines():
            found = _PIN.match(line)
            if found:
                pins[found["name"].lower()] = f"{found['name']}=={found['version']}{found['marker'] or ''}"
    if not pins:
        return None
    path = dest / "lock-pins.txt"
    path.write_text("".join(pin + "\n" for pin in sorted(pins.values())))
    return path


_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)\s*(?P<marker>;[^\\]*)?"
)


def make_venv(dest: Path, wheel: Path) -> HostVenv:
    """A fresh venv with the wheel, its [redis] extra and the servers, at the lock files' versions."""
    run([sys.executable, "-m", "venv", dest], timeout=120)
    venv = HostVenv(dest)
    requirements = [f"{wheel}[redis]", *SERVER_PACKAGES]
    # --no-compile: the servers compile what they import; compiling all of site-packages
    # up front would double the install's time.
    install = [venv.python, "-m", "pip", "install", "--quiet", "--no-compile"]
    pins = lock_pins(dest.parent)
    if pins is not None:
        try:
            run([*install, "-c", pins, *requirements])
            return venv
        except RuntimeError as error:
            venv.notes.append(f"install at the lock files' versions failed, installed unpinned:\n{error}")
    else:
        venv.notes.append(f"no lock file among {LOCK_FILES}: installed unpinned")
    run([*install, *requirements])
    return venv


HOSTAPP_FILES = {
    "__init__.py": "",
    "apps.py": """
        from django.apps import AppConfig


        class HostappConfig(AppConfig):
            name = "hostapp"
            default_auto_field = "django.db.models.BigAutoField"
        """,
    "work.py": '''
        """The host's CPU-bound code: about 30 ms of pure Python per call."""

        ITERATIONS = 300_000


        def crunch(iterations: int = ITERATIONS) -> int:
            total = 0
            i = 0
            while i < iterations:
                total = (total + i * i) % 1_000_003
                i += 1
            return total
        ''',
    "leak.py": '''
        """The host's leak: a module-level dict that every request adds 64 KiB to and nothing empties."""

        CHUNK = bytes(range(256)) * 256  # 64 KiB, every page written

        _remembered: dict[int, bytes] = {}


        def remember() -> None:
            _remembered[len(_remembered)] = bytes(bytearray(CHUNK))
        ''',
    "views.py": """
        import os

        from django.http import HttpResponse, JsonResponse

        from hostapp.leak import remember
        from hostapp.work import crunch


        def work(request):
            result = crunch()
            remember()
            return JsonResponse({"pid": os.getpid(), "result": result})


        def hello(request):
            return HttpResponse("hello from the host project")
        """,
    "tests.py": """
        import threading

        from django.test import SimpleTestCase


        class NoProfilerInATestRun(SimpleTestCase):
            def test_requests_in_a_test_run_start_no_profiler_thread(self):
                self.assertEqual(self.client.get("/hello/").status_code, 200)
                names = [t.name for t in threading.enumerate() if t.name.startswith("riptide-")]
                self.assertEqual(names, [])
        """,
}

SETTINGS_ADDITIONS = """

# --- the host's own additions (the profiler's steps are marked) ---
import os  # noqa: E402

DEBUG = os.environ.get("HOST_DEBUG", "false") == "true"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
STATIC_ROOT = BASE_DIR / "staticfiles"

# riptide-profiler, step 1: the app and what it needs.
INSTALLED_APPS += ["rest_framework", "rest_framework_api_key", "channels", "profiling"]
INSTALLED_APPS += ["hostapp"]

# riptide-profiler, optional: a few settings in the PROFILING dict (the rest from PROFILING_* env).
PROFILING = {"SNAPSHOT_DIR": str(BASE_DIR / "var" / "snapshots")}

# The host's Redis (the profiler finds it through REDIS_URL): its own cache and channel layer.
redis_url = os.environ.get("REDIS_URL")
cache_prefix = os.environ.get("HOST_CACHE_PREFIX", "mysite")
if redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": cache_prefix,
        }
    }
    channel_prefix = os.environ.get("HOST_CHANNEL_PREFIX")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], **({"prefix": channel_prefix} if channel_prefix else {})},
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"profiling": {"handlers": ["console"], "level": "INFO"}},
}
"""

URLS_ADDITIONS = """

# --- the host's own views, and riptide-profiler step 2 ---
from django.urls import include  # noqa: E402

from hostapp import views as host_views  # noqa: E402

urlpatterns += [
    path("hello/", host_views.hello),
    path("work/", host_views.work),
    path("", include("profiling.urls")),
]
"""


HOT_FUNCTION_LINE = (
    textwrap.dedent(HOSTAPP_FILES["work.py"])
    .lstrip()
    .splitlines()
    .index("def crunch(iterations: int = ITERATIONS) -> int:")
    + 1
)


def _apply_entry_point(path: Path, kind: str) -> None:
    """riptide-profiler step 3: wrap the server entry point."""
    text = path.read_text()
    original = f"application = get_{kind}_application()"
    if original not in text:
        raise RuntimeError(f"{path.name} as generated has no {original!r} line:\n{text}")
    wrapped = f"import profiling.{kind}  # noqa: E402\n\napplication = profiling.{kind}.wrap(get_{kind}_application())"
    path.write_text(text.replace(original, wrapped))


@dataclass
class HostProject:
    """A generated project in `path`, served from `venv`; one migrated SQLite database."""

    path: Path
    venv: HostVenv
    api_key: str = ""

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not _FOREIGN_ENV.match(k)}
        env["PATH"] = f"{self.venv.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra or {})
        return env

    def manage(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
        return run([self.venv.python, "manage.py", *args], cwd=self.path, env=self.env(env), timeout=timeout)

    def create_api_key(self, name: str) -> str:
        return self.manage("create_api_key", "--name", name).stdout.strip().splitlines()[-1]


def create_host_project(dest: Path, venv: HostVenv) -> HostProject:
    """`django-admin startproject mysite`, the documented steps, the host's app; migrated."""
    dest.mkdir(parents=True, exist_ok=True)
    project = HostProject(dest, venv)
    run([venv.bin("django-admin"), "startproject", "mysite", dest], env=project.env())
    package = dest / "mysite"
    with open(package / "settings.py", "a") as settings:
        settings.write(SETTINGS_ADDITIONS)
    with open(package / "urls.py", "a") as urls:
        urls.write(URLS_ADDITIONS)
    _apply_entry_point(package / "wsgi.py", "wsgi")
    _apply_entry_point(package / "asgi.py", "asgi")
    app = dest / "hostapp"
    app.mkdir()
    for name, text in HOSTAPP_FILES.items():
        (app / name).write_text(textwrap.dedent(text).lstrip())
    (dest / "logs").mkdir()
    project.manage("migrate", "--noinput")
    project.api_key = project.create_api_key("integration")
    project.manage(
        "createsuperuser",
        "--noinput",
        "--username",
        SUPERUSER,
        "--email",
        "admin@example.com",
        env={"DJANGO_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD},
    )
    return project


# gunicorn's ways here: sync workers forked from a master that imported the app (--preload),
# gthread workers (a thread pool each) and uvicorn workers (ASGI), both importing it after the fork.
GUNICORN_WORKERS = {
    "gunicorn": ("mysite.wsgi:application", ["--worker-class=sync", "--preload"]),
    "gunicorn-gthread": ("mysite.wsgi:application", ["--worker-class=gthread", "--threads=4"]),
    "gunicorn-uvicorn": ("mysite.asgi:application", ["--worker-class=uvicorn.workers.UvicornWorker"]),
}
WSGI_KINDS = {kind for kind, (app, _) in GUNICORN_WORKERS.items() if app.startswith("mysite.wsgi")}


class HostServer:
    """One server process serving the host project on 127.0.0.1; `kind` is one of COMMANDS."""

    def __init__(
        self, project: HostProject, kind: str, env: dict[str, str] | None = None, startup_timeout: float = 45
    ):
        self.project = project
        self.kind = kind
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = project.env(
            {
                "PROFILING_MEMORY_INTERVAL_SECS": "0.5",
                "PROFILING_LEAK_CHECK_INTERVAL_SECS": "1",
                "PROFILING_RATE_LEAK_DETECTION": "60/m",
                **(env or {}),
            }
        )
        self.startup_timeout = startup_timeout
        self.log_path = project.path / "logs" / f"{kind}-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self._log = None

    def command(self) -> list[str]:
        bind = f"127.0.0.1:{self.port}"
        venv = self.project.venv
        if self.kind.startswith("gunicorn"):
            app, workers = GUNICORN_WORKERS[self.kind]
            return [
                str(venv.bin("gunicorn")),
                app,
                "--workers=2",
                *workers,
                f"--bind={bind}",
                "--timeout=60",
                "--graceful-timeout=5",
                "--no-control-socket",  # not a socket in the home directory shared with other runs
            ]
        if self.kind == "uvicorn":
            return [
                str(venv.bin("uvicorn")),
                "mysite.asgi:application",
                "--workers=2",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--timeout-graceful-shutdown=5",
            ]
        if self.kind == "runserver":  # with its autoreloader: the server is the reloader's child
            return [str(venv.python), "manage.py", "runserver", f"127.0.0.1:{self.port}"]
        if self.kind == "daphne":
            return [
                str(venv.bin("daphne")),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "mysite.asgi:application",
            ]
        raise ValueError(self.kind)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> HostServer:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(), cwd=self.project.path, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early ({self.process.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/hello/", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.kind} did not answer in {self.startup_timeout} s:\n{self.log()}")

    def worker_pids(self) -> set[int]:
        """The pids of the processes serving requests: the children for gunicorn and uvicorn."""
        if self.kind == "daphne":
            return {self.pid}
        children = psutil.Process(self.pid).children()
        if self.kind == "uvicorn":  # multiprocessing's resource tracker is a child too
            children = [c for c in children if "spawn_main" in " ".join(_cmdline(c))]
        return {c.pid for c in children}

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            children = []
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(5)
        _, alive = psutil.wait_procs(children, timeout=5)
        for child in alive:  # a worker its master left behind (runserver's child, say)
            _signal(child, signal.SIGTERM)
        _, alive = psutil.wait_procs(alive, timeout=5)
        for child in alive:
            _signal(child, signal.SIGKILL)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self, tail: int = 12000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def client(self, key: str | None = "", headers: dict | None = None, **kwargs) -> httpx.Client:
        """An HTTP client of this server, with the host's API key unless `key` is None."""
        key = self.project.api_key if key == "" else key
        headers = {**({"X-API-Key": key} if key else {}), **(headers or {})}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def __enter__(self) -> HostServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal(process: psutil.Process, signum: int) -> None:
    try:
        os.kill(process.pid, signum)
    except ProcessLookupError:
        pass


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


class Load:
    """A few threads requesting the host's CPU view until stopped; answers counted by worker pid."""

    def __init__(self, base_url: str, concurrency: int = 3, max_requests: int = 4000, max_secs: float = 150):
        self.base_url = base_url
        self.concurrency = concurrency
        self.max_requests = max_requests
        self.max_secs = max_secs
        self.served: Counter[int] = Counter()
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"host-load-{i}", daemon=True) for i in range(concurrency)
        ]

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_secs
        # A new connection per request, so the kernel spreads them over the workers.
        with httpx.Client(base_url=self.base_url, timeout=30, headers={"Connection": "close"}) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    if self.total >= self.max_requests:
                        return
                try:
                    response = client.get("/work/")
                    pid = response.json()["pid"] if response.status_code == 200 else None
                except (httpx.HTTPError, ValueError, KeyError) as error:
                    pid, response = None, error
                with self._lock:
                    if pid is None:
                        self.failures.append(repr(response)[:300])
                    else:
                        self.served[pid] += 1

    @property
    def total(self) -> int:
        return sum(self.served.values())

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(35)

    def wait_for(self, total: int, workers: set[int], per_worker: int, timeout: float = 60) -> None:
        """Wait until `total` requests were served, at least `per_worker` by each of `workers`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                served = dict(self.served)
            if sum(served.values()) >= total and all(served.get(pid, 0) >= per_worker for pid in workers):
                return
            if len(self.failures) > 20:
                break
            time.sleep(0.2)
        raise AssertionError(
            f"the CPU view did not serve {total} requests ({per_worker}+ by each of {sorted(workers)}) "
            f"in {timeout:g} s: served by pid {dict(self.served)}, failures {self.failures[:5]}"
        )

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


REDIS_DB_URL = "redis://127.0.0.1:6379/9"  # this module's own Redis database, emptied before and after


@contextmanager
def fresh_redis_db():
    """Yield (REDIS_URL, the host's cache prefix, a client) on an emptied Redis database."""
    import redis

    client = redis.Redis.from_url(REDIS_DB_URL, socket_timeout=5)
    client.flushdb()
    try:
        yield REDIS_DB_URL, f"mysite-{secrets.token_hex(3)}", client
    finally:
        client.flushdb()
        client.close()


@contextmanager
def serving(project: HostProject, kind: str, env: dict[str, str] | None = None, workers: int = 1):
    """Serve the project with `kind`, wait until `workers` instances are listed, keep load on /work/."""
    server = HostServer(project, kind, env=env)
    try:
        server.start()
        with server.client() as client:
            wait_for_instances(client, workers, server)
        with Load(server.base_url) as load:
            yield server, load
    finally:
        server.stop()


@contextmanager
def staff_session(server: HostServer):
    """Yield a client signed in at /profiling/login/ as the host's superuser (CSRF token included)."""
    with server.client(key=None, follow_redirects=False) as client:
        yield _sign_in(client)


def _sign_in(client: httpx.Client) -> httpx.Client:
    page = client.get("/profiling/login/")
    assert page.status_code == 200, f"GET /profiling/login/: {page.status_code} {page.text[:500]}"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:2000]
    signed_in = client.post(
        "/profiling/login/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": SUPERUSER,
            "password": SUPERUSER_PASSWORD,
            "next": "/profiling/",
        },
    )
    assert signed_in.status_code == 302, f"sign-in: {signed_in.status_code} {signed_in.text[:1000]}"
    return client


def failure_context(server: HostServer, what: str) -> str:
    return f"{what}\n--- {server.kind} log (tail) ---\n{server.log(6000)}"


def instances(client: httpx.Client) -> dict:
    response = client.get("/api/profiling/instances")
    assert response.status_code == 200, (
        f"GET /api/profiling/instances: {response.status_code} {response.text[:2000]}"
    )
    return response.json()


def wait_for_instances(client: httpx.Client, count: int, server: HostServer, timeout: float = 30) -> dict:
    """Wait until GET /api/profiling/instances lists `count` instances; return the last listing."""
    deadline = time.monotonic() + timeout
    listing: dict | str = {}
    while time.monotonic() < deadline:
        try:
            response = client.get("/api/profiling/instances")
            if response.status_code == 200:
                listing = response.json()
                if len(listing.get("instances", [])) >= count:
                    return listing
            else:
                listing = f"{response.status_code} {response.text[:1500]}"
        except httpx.HTTPError as error:
            listing = repr(error)
        time.sleep(0.5)
    raise AssertionError(
        failure_context(server, f"GET /api/profiling/instances never listed {count} instances: {listing}")
    )


def listed_pids(listing: dict) -> list[int]:
    pids = []
    for item in listing["instances"]:
        pid = item.get("pid")
        if pid is None:
            pid = int(item["instance"].rpartition(":")[2])
        pids.append(int(pid))
    return pids


def top_hotspot(client: httpx.Client, instance: str) -> tuple[str | None, dict]:
    response = client.get("/api/profiling/bottlenecks", params={"instance": instance, "window": "120"})
    assert response.status_code == 200, (
        f"bottlenecks of {instance}: {response.status_code} {response.text[:2000]}"
    )
    body = response.json()
    hotspots = body.get("hotspots") or []
    return (hotspots[0]["function_name"] if hotspots else None), body


def summary_of_bottlenecks(body: dict) -> str:
    hotspots = [
        (h.get("function_name"), h.get("impact_score"), h.get("cpu_time_percent"))
        for h in body.get("hotspots", [])[:5]
    ]
    rest = {k: v for k, v in body.items() if k not in ("hotspots", "recommendations")}
    return f"top hotspots {hotspots}; {rest}"


def leak_components(report: dict) -> list[str]:
    named = [leak.get("component") for leak in report.get("potential_leaks") or []]
    return [str(name) for name in named if name]


def names_the_leak(component: str) -> bool:
    return component == LEAK_MODULE or component.startswith(LEAK_MODULE + ".")


def wait_for_named_leak(client: httpx.Client, instance: str, timeout: float = 45) -> dict:
    """POST leak-detection to `instance` every few seconds until it names the host's leaking module."""
    deadline = time.monotonic() + timeout
    reports: list = []
    while True:
        response = client.post("/api/profiling/leak-detection", params={"instance": instance})
        if response.status_code == 200:
            report = response.json()
            reports.append(
                {
                    "components": leak_components(report),
                    "highest_risk_component": report.get("highest_risk_component"),
                    "checks_analyzed": report.get("checks_analyzed"),
                }
            )
            if any(names_the_leak(c) for c in leak_components(report)):
                return report
        else:
            reports.append(f"{response.status_code} {response.text[:800]}")
            if response.status_code not in (429, 503, 504):
                break
        if time.monotonic() > deadline:
            break
        time.sleep(2)
    raise AssertionError(f"leak detection on {instance} never named {LEAK_MODULE}: {reports}")


def host_untouched_problems(server: HostServer) -> list[str]:
    """What the profiler changed of the host's own views, admin and auth (empty: nothing)."""
    problems: list[str] = []

    def expect(response: httpx.Response, status: int, what: str, text: str | None = None) -> bool:
        if response.status_code != status or (text is not None and text not in response.text):
            problems.append(
                f"{what}: {response.request.method} {response.request.url.raw_path.decode()} answered "
                f"{response.status_code} {response.headers.get('location', '')} {response.text[:300]!r} "
                f"(expected {status}{f' with {text!r}' if text else ''})"
            )
            return False
        return True

    with server.client(key=None, follow_redirects=False) as browser:
        expect(browser.get("/hello/"), 200, "the host's own view", "hello from the host project")
        login_page = browser.get("/admin/login/")
        if expect(login_page, 200, "the admin login page", "Django administration"):
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
            logged_in = browser.post(
                "/admin/login/?next=/admin/",
                data={
                    "csrfmiddlewaretoken": token.group(1) if token else "",
                    "username": SUPERUSER,
                    "password": SUPERUSER_PASSWORD,
                    "next": "/admin/",
                },
            )
            if expect(logged_in, 302, "the admin login with the host's superuser"):
                if logged_in.headers.get("location") != "/admin/":
                    problems.append(f"the admin login redirected to {logged_in.headers.get('location')!r}")
                expect(browser.get("/admin/"), 200, "the admin index after login", "Site administration")
                expect(browser.get("/profiling/"), 200, "the dashboard for the host's staff session")
    with server.client(key=None, follow_redirects=False) as anonymous:
        expect(anonymous.get("/api/profiling/memory"), 401, "the API without a key")
        dashboard = anonymous.get("/profiling/")
        if expect(dashboard, 302, "the dashboard for an anonymous visitor"):
            location = dashboard.headers.get("location", "")
            if not location.startswith("/profiling/login/"):
                problems.append(f"the anonymous dashboard redirected to {location!r}, not /profiling/login/")
        expect(anonymous.get("/admin/"), 302, "the admin index for an anonymous visitor")
    with server.client() as keyed:
        expect(
            keyed.get("/profiling/metrics"),
            200,
            "/profiling/metrics with the key",
            "riptide_memory_rss_bytes",
        )
        expect(keyed.get("/hello/"), 200, "the host's own view with an API key header")
    return problems


def cookie_plaintext(value: str) -> str:
    """What a signed Django cookie (messages, signed cookies) says, read without its key.

    The value is `payload[:timestamp]:signature`; a payload starting with "." is zlib-compressed.
    """
    payload = value.strip('"').split(":", 1)[0]
    compressed = payload.startswith(".")
    payload = payload.lstrip(".")
    try:
        data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return (zlib.decompress(data) if compressed else data).decode(errors="replace")
    except (ValueError, zlib.error):
        return value


def admin_add_api_key(server: HostServer, name: str) -> tuple[str, list[tuple[str, str]]]:
    """Add an API key in the host's admin; return the key it showed and every cookie set meanwhile."""
    cookies_seen: list[tuple[str, str]] = []
    with server.client(key=None, follow_redirects=False) as client:

        def remember_cookies(response: httpx.Response) -> None:
            for header in response.headers.get_list("set-cookie"):
                cookie_name, _, rest = header.partition("=")
                cookies_seen.append((cookie_name, rest.split(";", 1)[0]))

        client.event_hooks["response"] = [remember_cookies]
        login = client.get("/admin/login/")
        client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": _csrf_token(login.text),
                "username": SUPERUSER,
                "password": SUPERUSER_PASSWORD,
                "next": "/admin/",
            },
        )
        form = client.get("/admin/profiling/profilingapikey/add/")
        assert form.status_code == 200, f"the admin's add-key form: {form.status_code} {form.text[:500]}"
        added = client.post(
            "/admin/profiling/profilingapikey/add/",
            data={
                "csrfmiddlewaretoken": _csrf_token(form.text),
                "name": name,
                "expiry_date_0": "",
                "expiry_date_1": "",
                "_save": "Save",
            },
        )
        assert added.status_code == 302, f"adding a key in the admin: {added.status_code} {added.text[:1500]}"
        shown = client.get(added.headers["location"])
    found = re.search(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", shown.text)
    assert found, f"the admin showed no new key after adding one: {shown.text[:3000]}"
    return found.group(0), cookies_seen


def _csrf_token(page: str) -> str:
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page[:2000]
    return token.group(1)

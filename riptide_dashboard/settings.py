"""Settings for riptide-dashboard: the only module that reads the environment.

Every variable is documented in README.md; a bad value raises
ImproperlyConfigured naming the variable, which stops start-up.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from profiling.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = Env(os.environ)

# --- Django basics -----------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", True)
_DEV_SECRET = "riptide-dev-only-secret-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", _DEV_SECRET)
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
HTTPS = env.bool("DJANGO_HTTPS", False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_ratelimit",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "profiling",
]
# The benchmarks' workload app (bench/workload): only in servers `make bench` starts.
BENCH_WORKLOAD = env.bool("RIPTIDE_BENCH_WORKLOAD", False)
if BENCH_WORKLOAD:
    INSTALLED_APPS.append("bench.workload")

MIDDLEWARE = [  # the two profiling middleware classes are optional for a host; this project uses them
    "django.middleware.security.SecurityMiddleware",
    "profiling.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "profiling.middleware.JsonApiErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "riptide_dashboard.urls"
ASGI_APPLICATION = "riptide_dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Storage: database, cache, channel layer -----------------------------------------

DATABASE_URL = env.url("DATABASE_URL", schemes=("sqlite", "postgres", "postgresql", "pgsql", "postgis"))
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except Exception:  # the URL may hold a password: never echo it
        raise ImproperlyConfigured("DATABASE_URL is not a valid database URL") from None
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "riptide.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two processes writing one SQLite file: take the write lock up front and wait
    # for it instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})

REDIS_URL = env.url("REDIS_URL", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "riptide",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 200, "expiry": 30},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "riptide-default",
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, sessions, security --------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# The admin shows a new API key once in a message: keep messages server-side.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Request bodies: the API takes none bigger than this; refused with a JSON 413
# before Django reads them (profiling.asgi_limits).
MAX_REQUEST_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# --- Static files ------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- REST framework, OpenAPI ---------------------------------------------------------

_RENDERERS = ["rest_framework.renderers.JSONRenderer"]
if DEBUG:
    _RENDERERS.append("rest_framework.renderers.BrowsableAPIRenderer")

# The profiling views carry their own authentication, permission, throttle, renderer and
# exception policy; these are this project's defaults for anything else.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": _RENDERERS,
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "riptide-dashboard profiling API",
    "DESCRIPTION": "Live memory, CPU, bottleneck and leak profiling of the running service.",
    "VERSION": "1.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "profiling.schema.canonical_paths",
    ],
}

# --- Rate limits -----------------------------------------------------------------

RATELIMIT_USE_CACHE = "default"
RATELIMIT_CACHE_PREFIX = "riptide-rl:"
SILENCED_SYSTEM_CHECKS = []
if not REDIS_URL:
    # The local-memory cache counts atomically under its lock, which is exact within
    # one process; several processes need REDIS_URL (documented in the README).
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")
# django-ratelimit lists only django-redis and memcached; Django's own Redis cache
# increments with the atomic INCR command as well.
SILENCED_SYSTEM_CHECKS.append("django_ratelimit.W001")

# --- Profiling -------------------------------------------------------------------

# The app reads its own variables (ENABLE_PROFILING, PROFILING_*, REDIS_URL,
# DJANGO_LOGIN_RATE) from the environment in profiling/settings.py, as in any host project;
# a bad value stops the server's start-up and fails `manage.py check`. Relative paths
# (PROFILING_SNAPSHOT_DIR, default var/snapshots) are under BASE_DIR.
WSGI_APPLICATION = "riptide_dashboard.wsgi.application"

# A synthetic crawler workload inside the server (`make demo`), never in production.
DEMO = env.bool("RIPTIDE_DEMO", False)

# --- Logging ---------------------------------------------------------------------

LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"DJANGO_LOG_LEVEL={LOG_LEVEL!r} is not a logging level")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "profiling": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

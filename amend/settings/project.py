"""The Django project itself: its apps and their migrations, the middleware, URLs, templates, sign-in pages,
locale and static files. Nothing here depends on the deployment but where var/ is."""

from amend.settings.environment import BASE_DIR, VAR_DIR

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
    # The transactional outbox (issue 11): every task the web app sends is written here first (outbox.py).
    "apps.outbox",
]

# All migrations live in one top-level package, one sub-package per app.
MIGRATION_MODULES = {
    "accounts": "migrations.accounts",
    "audit": "migrations.audit",
    "modellines": "migrations.modellines",
    "facts": "migrations.facts",
    "releases": "migrations.releases",
    "outbox": "migrations.outbox",
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (security.py says what it allows).
    "csp.middleware.CSPMiddleware",
    # Refuses a body over AMEND_MAX_UPLOAD_BYTES from its Content-Length, before anything reads or spools it:
    # ahead of the CSRF check, which parses POST bodies (security.py, amend/body_limit.py).
    "amend.body_limit.BodyLimitMiddleware",
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

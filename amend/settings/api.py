"""The REST API and signing in: Django REST framework (authentication, throttles, parsers), the OpenAPI schema,
API token lifetime and the sign-in backoff."""

import os

# Sign-in attempts are limited per client address (AMEND_SIGN_IN_THROTTLE, every attempt counts) and per
# (user name, address) pair with backoff: after AMEND_SIGN_IN_FREE_FAILURES wrong passwords the pair waits
# AMEND_SIGN_IN_BACKOFF_SECONDS, doubling with each further failure up to AMEND_SIGN_IN_BACKOFF_MAX_SECONDS; a
# success clears it. Never per user name alone: a stranger must not be able to lock the real user out (issue 16).
# The address is that of the client as the last of NUM_PROXIES trusted proxies saw it: with 0 (no proxy)
# X-Forwarded-For is ignored, so a client cannot choose its own address.
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
    "NUM_PROXIES": int(os.environ.get("AMEND_NUM_PROXIES", "0")),
    # Input (issue 11): API JSON bodies refuse deep nesting and out-of-range numbers (apps/core/strict_json.py);
    # bodies over AMEND_MAX_UPLOAD_BYTES never reach a parser (security.py).
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.strict_json.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
AMEND_SIGN_IN_FREE_FAILURES = int(os.environ.get("AMEND_SIGN_IN_FREE_FAILURES", "5"))
AMEND_SIGN_IN_BACKOFF_SECONDS = float(os.environ.get("AMEND_SIGN_IN_BACKOFF_SECONDS", "1"))
AMEND_SIGN_IN_BACKOFF_MAX_SECONDS = float(os.environ.get("AMEND_SIGN_IN_BACKOFF_MAX_SECONDS", "900"))
# API tokens are stored as hashes (apps.accounts.models.ApiToken), not in DRF's plain-text authtoken table.
AMEND_TOKEN_DAYS = int(os.environ.get("AMEND_TOKEN_DAYS", "30"))

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

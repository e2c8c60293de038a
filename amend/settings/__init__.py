"""Amend settings: every deployment choice read from the environment, one module per concern.

With no environment at all this runs on embedded defaults (SQLite, a filesystem broker,
a local MLflow store under var/) so a newcomer needs no server; production sets
DATABASE_URL, CELERY_BROKER_URL, MLFLOW_TRACKING_URI and AMEND_SECRET_KEY.

DJANGO_SETTINGS_MODULE stays "amend.settings": Django reads the upper-case names of this module, so it gathers
every part's names below (a star import, so a setting added to a part needs no second line here). Each variable
is read in one part only; a part that needs another's value imports it from there.

    environment        helpers (env_bool, env_list, env_secret), BASE_DIR, VAR_DIR, var/.env, DEBUG
    project            apps, migrations, middleware, URLs, templates, sign-in pages, locale, static files
    database           DATABASES (PostgreSQL, or SQLite under var/)
    caches             CACHES (Redis with a per-process fallback, or local memory)
    broker             Celery and its broker, redelivery of lost tasks; filesystem_broker_options
    workers            deliveries, retries, MLflow attempts, what a worker keeps, lineage snapshots
    mlflow_and_models  MLflow's store and UI, the base model and its device
    logs               LOGGING
    security           secret key (refused if unsafe), hosts, trusted proxies, HTTPS, body limit, CSP
    audit              audit keys (HMAC key refused if missing), checkpoints, witness file
    outbox             the outbox dispatcher and the sweepers of stalled batches and checks
    beat               CELERY_BEAT_SCHEDULE
    api                REST framework, OpenAPI schema, throttles, sign-in backoff, token lifetime
"""

# environment first: it applies var/.env, and every part after it reads variables. The rest in about the order
# the single settings file read them, so when several settings are wrong the same one is reported first in the
# common cases (the secret key before the audit HMAC key). A part another needs is imported by that part itself.
# isort: off
from amend.settings.environment import *  # noqa: F403
from amend.settings.project import *  # noqa: F403
from amend.settings.database import *  # noqa: F403
from amend.settings.caches import *  # noqa: F403
from amend.settings.broker import *  # noqa: F403
from amend.settings.workers import *  # noqa: F403
from amend.settings.mlflow_and_models import *  # noqa: F403
from amend.settings.logs import *  # noqa: F403
from amend.settings.security import *  # noqa: F403
from amend.settings.audit import *  # noqa: F403
from amend.settings.outbox import *  # noqa: F403
from amend.settings.beat import *  # noqa: F403
from amend.settings.api import *  # noqa: F403

# isort: on

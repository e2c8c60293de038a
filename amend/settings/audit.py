"""The audit trail's keys and checkpoints (issues 11 and 16).

The audit chain's head is signed (Ed25519) and written outside the database: to a directory (mount a volume the
database's writers cannot reach) and to the MLflow artifact store. Only processes that write checkpoints (beat's
default-queue worker, `manage.py checkpoint_audit`) need the private key; auditors verify with the public half.
Keys are PEM text, or read from a file (Docker secrets) with *_FILE.
"""

import hashlib
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from amend.settings.environment import DEBUG, VAR_DIR, env_bool, env_secret
from amend.settings.security import SECRET_KEY

AMEND_AUDIT_SIGNING_KEY = env_secret("AMEND_AUDIT_SIGNING_KEY")
AMEND_AUDIT_PUBLIC_KEY = env_secret("AMEND_AUDIT_PUBLIC_KEY")
AMEND_AUDIT_CHECKPOINT_DIR = Path(os.environ.get("AMEND_AUDIT_CHECKPOINT_DIR", VAR_DIR / "audit-checkpoints"))
AMEND_AUDIT_CHECKPOINT_MLFLOW = env_bool("AMEND_AUDIT_CHECKPOINT_MLFLOW", True)
# Issue 16. Every event is tagged with HMAC-SHA256 under this key, held by the processes that write events (web,
# workers, beat) and never stored in the database, so a database login alone cannot forge or rewrite an event.
# In debug mode it is derived from the (local, insecure) secret key; elsewhere it is required: without it the
# process refuses to start (ImproperlyConfigured: one line from manage.py).
AMEND_AUDIT_HMAC_KEY = env_secret("AMEND_AUDIT_HMAC_KEY").strip()
if not AMEND_AUDIT_HMAC_KEY and DEBUG:
    AMEND_AUDIT_HMAC_KEY = hashlib.sha256(f"amend-audit-hmac/{SECRET_KEY}".encode()).hexdigest()
if not DEBUG and len(AMEND_AUDIT_HMAC_KEY) < 32:
    raise ImproperlyConfigured(
        "AMEND_AUDIT_HMAC_KEY (or AMEND_AUDIT_HMAC_KEY_FILE) is unset or shorter than 32 characters: every process "
        "that writes audit events needs the same random key, e.g. "
        "python -c 'import secrets; print(secrets.token_hex(32))'"
    )
# Each write's newest event is appended here once committed ("id hash time"): the unsigned tail's witness.
AMEND_AUDIT_WITNESS_FILE = Path(
    os.environ.get("AMEND_AUDIT_WITNESS_FILE", Path(AMEND_AUDIT_CHECKPOINT_DIR) / "witness.log")
)
# How often beat writes a checkpoint (and at every promotion).
AMEND_AUDIT_CHECKPOINT_SECONDS = float(os.environ.get("AMEND_AUDIT_CHECKPOINT_SECONDS", "900"))
# verify_audit reports a missing checkpoint when events older than this are covered by none.
AMEND_AUDIT_CHECKPOINT_MAX_AGE = float(
    os.environ.get("AMEND_AUDIT_CHECKPOINT_MAX_AGE", str(2 * AMEND_AUDIT_CHECKPOINT_SECONDS + 300))
)

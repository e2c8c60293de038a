"""Outside debug mode: a real secret key or no start at all; with AMEND_HTTPS, secure cookies, HSTS and https only.

Each case starts a fresh Python, as a deployment would, because the settings are read once at start.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REAL_KEY = "k3y-" + "x7Qz9" * 10

# Runs in the child: one request as a browser behind the TLS proxy would send it, one as plain http.
PROBE = """
import django
django.setup()
from django.test import Client
proxied = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
plain = Client().get("/accounts/login/")
print(proxied.status_code, proxied.headers.get("Strict-Transport-Security"))
print(proxied.cookies["csrftoken"]["secure"])
print(plain.status_code, plain.headers.get("Location"))
"""


def start(tmp_path, code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AMEND_")}
    environ.update(
        DJANGO_SETTINGS_MODULE="amend.settings",
        AMEND_DEBUG="0",
        AMEND_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        AMEND_AUDIT_HMAC_KEY="a" * 8 + "9f3c" * 8,
    )
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], env=environ, cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize(
    "key", ["", "change-me-to-a-long-random-string", "insecure-local-development-key-never-use-in-production", "short"]
)
def test_a_placeholder_or_short_secret_key_is_refused_at_start(tmp_path, key):
    started = start(tmp_path, "import django; django.setup()", AMEND_SECRET_KEY=key)
    assert started.returncode != 0
    assert "AMEND_SECRET_KEY is unset, a placeholder or shorter than 32 characters" in started.stderr


def test_without_an_audit_hmac_key_it_refuses_to_start(tmp_path):
    started = start(tmp_path, "import django; django.setup()", AMEND_SECRET_KEY=REAL_KEY, AMEND_AUDIT_HMAC_KEY="")
    assert started.returncode != 0
    assert "AMEND_AUDIT_HMAC_KEY (or AMEND_AUDIT_HMAC_KEY_FILE) is unset" in started.stderr


def test_behind_a_tls_proxy_cookies_are_secure_hsts_is_sent_and_http_is_redirected(tmp_path):
    started = start(
        tmp_path, PROBE, AMEND_SECRET_KEY=REAL_KEY, AMEND_HTTPS="1", AMEND_PROXY_SSL_HEADER="X-Forwarded-Proto"
    )
    assert started.returncode == 0, started.stderr
    proxied, cookie, plain = started.stdout.splitlines()
    assert proxied == "200 max-age=31536000"
    assert cookie == "True"
    assert plain == "301 https://testserver/accounts/login/"

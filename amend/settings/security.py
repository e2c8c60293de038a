"""Security and HTTP: the secret key (refused at start outside debug mode when anyone could know it), served host
names, trusted proxies, cookies, HTTPS and HSTS, the request body limit and the Content-Security-Policy."""

import ipaddress
import os

from django.core.exceptions import ImproperlyConfigured

from amend.settings.environment import DEBUG, env_bool, env_list

SECRET_KEY = os.environ.get("AMEND_SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"
ALLOWED_HOSTS = env_list("AMEND_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("AMEND_CSRF_TRUSTED_ORIGINS", "")

# X-Request-ID is taken from the client only when the request comes from one of these addresses or networks
# (apps/audit/middleware.py).
AMEND_TRUSTED_PROXIES = env_list("AMEND_TRUSTED_PROXIES", "")
for _proxy in AMEND_TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy, strict=False)  # a typo fails at start, not on every request

# Refuse to run outside debug mode on a key anyone could know: unset, the placeholder of docker/.env.example
# or of debug mode, or too short to resist guessing (there is no escape hatch: set a real key).
# ImproperlyConfigured: manage.py prints it as one line, not a traceback.
_PLACEHOLDER_KEYS = ("change-me", "insecure-")
if not DEBUG and (len(SECRET_KEY) < 32 or SECRET_KEY.startswith(_PLACEHOLDER_KEYS) or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "AMEND_SECRET_KEY is unset, a placeholder or shorter than 32 characters; set a random one, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' (or AMEND_DEBUG=1 for local use; "
        "`make run` writes var/.env, which sets it for every command)"
    )

SESSION_COOKIE_HTTPONLY = True
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

# Request bodies over the limit are refused from their Content-Length before anything reads or spools them
# (amend/body_limit.py, placed ahead of the CSRF check in project.py's MIDDLEWARE, as the check parses POST
# bodies). The largest import file (apps.facts.changesets.files.MAX_IMPORT_BYTES, 20 MiB) plus its form fields.
AMEND_MAX_UPLOAD_BYTES = int(os.environ.get("AMEND_MAX_UPLOAD_BYTES", str(21 * 1024 * 1024)))

# Content-Security-Policy on every response (django-csp): scripts, styles, images and connections from this site
# only, no inline script, no framing, forms post here only. Inline style attributes stay allowed (CSP3's
# style-src-attr: a few templates and Swagger UI set them); a <style> element or an inline script is refused.
_SELF = ["'self'"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": _SELF,
        "script-src": _SELF,
        "style-src": _SELF,
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [*_SELF, "data:"],
        "object-src": ["'none'"],
        "base-uri": _SELF,
        "form-action": _SELF,
        "frame-ancestors": ["'none'"],
    }
}

"""API tokens, kept only as a hash: the database (its backups, its readers) never holds a usable token."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


def token_digest(key: str) -> str:
    """SHA-256 of the token. A fast hash is enough: tokens carry 256 random bits, nothing to guess."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """One API token of one user: shown once when issued, valid until `expires_at` or until revoked."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="what the user called it (a script, a laptop)")
    prefix = models.CharField(max_length=16, help_text="the token's first characters, to recognise it in a list")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_token_user_live")]

    def __str__(self) -> str:
        return f"{self.prefix}… of {self.user_id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    def audit_snapshot(self) -> dict:
        # Never the digest: the audit export is read by more people than the token table.
        return {"name": self.name, "prefix": self.prefix, "expires_at": self.expires_at, "revoked_at": self.revoked_at}

"""Issuing and revoking API tokens. The token itself exists only in the answer that issues it.

Refusals:
- PermissionDenied: revoking another user's token (HTTP 403; the API's lists show only one's own,
  so a client meets 404 first);
- TransitionError: revoking a token that is already revoked (HTTP 409).
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, token_digest
from apps.audit.record import record_event
from apps.core.errors import TransitionError

# Recognisable in logs and by secret scanners; 32 random bytes after it.
KEY_PREFIX = "amend_"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # the only copy: give it to the user now


def _new(user: AbstractBaseUser, name: str) -> IssuedToken:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[: len(KEY_PREFIX) + 6],
        digest=token_digest(key),
        expires_at=timezone.now() + timedelta(days=settings.AMEND_TOKEN_DAYS),
    )
    record_event(user, "token.issued", token, after=token.audit_snapshot())
    return IssuedToken(token, key)


@transaction.atomic(durable=True)
def issue_token(user: AbstractBaseUser, *, name: str = "") -> IssuedToken:
    """A new token for `user`, valid for AMEND_TOKEN_DAYS; the user's other tokens stay valid."""
    return _new(user, name)


def _revoke(actor: AbstractBaseUser, token: ApiToken) -> None:
    before = token.audit_snapshot()
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_event(actor, "token.revoked", token, before=before, after=token.audit_snapshot())


@transaction.atomic(durable=True)
def revoke_token(actor: AbstractBaseUser, token: ApiToken) -> ApiToken:
    """`actor` revokes one of their own tokens: it stops working at once."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.user_id != actor.pk:
        raise PermissionDenied("only its owner may revoke a token")
    if token.revoked_at is not None:
        raise TransitionError("this token was already revoked")
    _revoke(actor, token)
    return token


@transaction.atomic(durable=True)
def replace_tokens(user: AbstractBaseUser, *, name: str = "") -> IssuedToken:
    """Revoke every live token of `user` and issue one new one ("replace my token")."""
    for token in ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True):
        _revoke(user, token)
    return _new(user, name)

"""Reads of accounts: a user's API tokens still in use."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import ApiToken


def live_tokens(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The user's tokens neither revoked nor expired (the API's list and the token page)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())

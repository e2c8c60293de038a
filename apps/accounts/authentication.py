"""Token authentication against hashed, expiring tokens, loading the user's roles in the same query."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.models import ApiToken, token_digest


def _sql() -> str:
    user_model = get_user_model()
    users, tokens = user_model._meta.db_table, ApiToken._meta.db_table
    memberships = user_model.groups.through._meta.db_table
    groups = Group._meta.db_table
    # One row per role group (or one row with NULL when the user has none).
    return (
        "SELECT u.*, g.name AS amend_role_name, t.id AS amend_token_id, "
        "t.revoked_at IS NOT NULL AS amend_token_revoked, t.expires_at <= %s AS amend_token_expired "
        f"FROM {tokens} t "
        f"JOIN {users} u ON u.id = t.user_id "
        f"LEFT JOIN {memberships} m ON m.user_id = u.id "
        f"LEFT JOIN {groups} g ON g.id = m.group_id "
        "WHERE t.digest = %s"
    )


class TokenWithRolesAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, in one round trip: the key's hash finds the token, its user and the
    user's role names (cached on the user for apps.accounts.roles.has_role).

    Plain SQL on purpose: this runs on every API call, and the ORM spends more time building
    the equivalent statement (with subqueries per role) than the database spends answering it.
    `request.auth` is the ApiToken (its id and user), never the key.
    """

    def authenticate_credentials(self, key: str) -> tuple:
        rows = list(get_user_model().objects.raw(_sql(), [timezone.now(), token_digest(key)]))
        if not rows:
            raise AuthenticationFailed("Invalid token.")
        user = rows[0]
        if user.amend_token_revoked:
            raise AuthenticationFailed("This token was revoked.")
        if user.amend_token_expired:
            raise AuthenticationFailed("This token has expired: sign in again for a new one.")
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        user._amend_role_names = {row.amend_role_name for row in rows if row.amend_role_name}
        return user, ApiToken(pk=user.amend_token_id, user=user)

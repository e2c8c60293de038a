"""Token authentication that loads the user's roles in the same query as the token."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def _sql() -> str:
    user_model = get_user_model()
    users, tokens = user_model._meta.db_table, Token._meta.db_table
    memberships = user_model.groups.through._meta.db_table
    groups = Group._meta.db_table
    # One row per role group (or one row with NULL when the user has none).
    return (
        f"SELECT u.*, g.name AS amend_role_name FROM {tokens} t "
        f"JOIN {users} u ON u.id = t.user_id "
        f"LEFT JOIN {memberships} m ON m.user_id = u.id "
        f"LEFT JOIN {groups} g ON g.id = m.group_id "
        "WHERE t.key = %s"
    )


class TokenWithRolesAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, in one round trip: the role checks that follow
    (apps.accounts.roles.has_role) find the user's role names already cached on the user.

    Plain SQL on purpose: this runs on every API call, and the ORM spends more time building
    the equivalent statement (with subqueries per role) than the database spends answering it.
    """

    def authenticate_credentials(self, key: str) -> tuple:
        rows = list(get_user_model().objects.raw(_sql(), [key]))
        if not rows:
            raise AuthenticationFailed("Invalid token.")
        user = rows[0]
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        user._amend_role_names = {row.amend_role_name for row in rows if row.amend_role_name}
        return user, Token(key=key, user=user)

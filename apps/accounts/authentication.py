"""Token authentication that loads the user's roles in the same query as the token."""

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.roles import Role


class TokenWithRolesAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`. One query instead of two on every API call: the role checks
    that follow (apps.accounts.roles.has_role) find the role names already cached on the user."""

    def authenticate_credentials(self, key: str) -> tuple:
        flags = {
            f"holds_{role.value}": Exists(Group.objects.filter(user=OuterRef("user_id"), name=role.value))
            for role in Role
        }
        token = self.get_model().objects.select_related("user").annotate(**flags).filter(key=key).first()
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        token.user._amend_role_names = {role.value for role in Role if getattr(token, f"holds_{role.value}")}
        return token.user, token

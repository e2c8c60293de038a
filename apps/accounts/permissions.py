"""Role permissions of the REST API: signed in with any role, or holding one of some roles."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts.roles import Role, has_role, roles_of


class HasAnyRole(BasePermission):
    """Signed in and holding at least one of the four roles (or a superuser)."""

    message = "you need one of the roles curator, reviewer, operator or auditor"

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(roles_of(request.user))


def role_permission(*roles: Role) -> type[BasePermission]:
    """A permission class that lets through holders of any of `roles`."""
    names = " or ".join(role.value for role in roles)

    class HasRole(BasePermission):
        message = f"only a {names} may do this"

        def has_permission(self, request: Request, view: Any) -> bool:
            return any(has_role(request.user, role) for role in roles)

    HasRole.__name__ = f"Has{''.join(role.value.title() for role in roles)}Role"
    return HasRole

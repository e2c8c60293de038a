from django.http import HttpRequest

from apps.accounts.roles import Role, has_role


def roles(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {"roles": {role.value: has_role(user, role) for role in Role}}

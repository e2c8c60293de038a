"""The four roles of Amend, as Django groups. Superusers hold every role."""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(StrEnum):
    CURATOR = "curator"  # submits and follows facts
    REVIEWER = "reviewer"  # approves, rejects, requests changes
    OPERATOR = "operator"  # model lines, gates, promotion, rollback
    AUDITOR = "auditor"  # reads and exports the history


def has_role(user: AbstractBaseUser | AnonymousUser | None, role: Role) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    # Cache the names per request object: a page asks several times.
    names = getattr(user, "_amend_role_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._amend_role_names = names
    return role.value in names


def roles_of(user: AbstractBaseUser | AnonymousUser | None) -> list[Role]:
    return [role for role in Role if has_role(user, role)]

"""The four roles of Amend, as Django groups. Superusers hold every role."""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied


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


def require_role(user: AbstractBaseUser | AnonymousUser | None, role: Role, what: str) -> None:
    """The one role check of every write: PermissionDenied (HTTP 403) "only a curator may submit facts"."""
    if not has_role(user, role):
        article = "an" if role.value[0] in "aeiou" else "a"
        raise PermissionDenied(f"only {article} {role.value} may {what}")


def roles_of(user: AbstractBaseUser | AnonymousUser | None) -> list[Role]:
    return [role for role in Role if has_role(user, role)]


def grant_role(user: AbstractBaseUser, role: Role) -> None:
    """Put `user` in the role's group (created if missing, e.g. after a test flushed the table)."""
    from django.contrib.auth.models import Group

    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.add(group)
    # has_role caches the names on the object: forget them so the new role counts at once.
    user.__dict__.pop("_amend_role_names", None)

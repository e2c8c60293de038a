"""What every API view shares: error mapping (and its schema), role permissions, write throttling, pagination."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from amend.errors import TransitionError
from apps.accounts.roles import Role, has_role, roles_of
from apps.accounts.throttling import sign_in_wait
from apps.audit.models import AppendOnlyError

# The answers of exception_handler below, for the schema of every write: `responses={..., **REFUSALS}`.
REFUSALS = {
    400: OpenApiResponse(description="invalid input: the body names each field and the reason"),
    403: OpenApiResponse(description="the user's role does not allow this"),
    409: OpenApiResponse(description="the workflow refuses this now; `detail` says why"),
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Domain errors as HTTP answers: TransitionError 409, ValidationError 400 (by field), 403 for roles."""
    if isinstance(exc, TransitionError):
        return Response({"detail": exc.reason, "code": "transition_refused"}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, AppendOnlyError):
        return Response({"detail": str(exc)}, status=status.HTTP_405_METHOD_NOT_ALLOWED)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"detail": str(exc) or "permission denied"}, status=status.HTTP_403_FORBIDDEN)
    return drf_exception_handler(exc, context)


# Sent by Django's own forms (the browsable API) beside the fields: not a field, never refused.
_FORM_EXTRAS = frozenset({"csrfmiddlewaretoken"})


class StrictInput:
    """Mixin for input serializers (`class X(StrictInput, serializers.Serializer)`): a key the serializer
    does not know is refused with 400 naming it, not silently dropped (a typo must not lose a field)."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in known and key not in _FORM_EXTRAS)
            if unknown:
                raise serializers.ValidationError({key: ["is not a field of this request"] for key in unknown})
        return super().to_internal_value(data)


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


class WriteThrottle(SimpleRateThrottle):
    """Limits writes (POST, PUT, PATCH, DELETE) per user; reads are free.

    The rate is read on every request from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["writes"]
    (env AMEND_WRITE_THROTTLE), so tests and the benchmark can change it.
    """

    scope = "writes"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignInThrottle(BaseThrottle):
    """Password attempts on the API, limited per client address and per user name
    (apps.accounts.throttling, shared with the sign-in page)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        self.seconds = sign_in_wait(request, username)
        return self.seconds is None

    def wait(self) -> float | None:
        return self.seconds


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

"""The one map of refusals to HTTP codes, for every API view (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

It lives in the project package, above the apps, because it names refusals of several of them
(the workflow's TransitionError, the audit trail's AppendOnlyError); apps.core.api.REFUSALS is its schema.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.audit.models import AppendOnlyError
from apps.core.errors import TransitionError


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

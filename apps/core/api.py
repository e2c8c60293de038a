"""What every API view shares: strict input, write throttling, pagination, the refusals' schema.

The refusals themselves are mapped to HTTP codes once, by the project (amend.refusals.exception_handler);
role permissions are the roles' (apps.accounts.permissions).
"""

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from apps.core.strict_json import MAX_INT

# The answers of amend.refusals.exception_handler, for the schema of every write: `responses={..., **REFUSALS}`.
REFUSALS = {
    400: OpenApiResponse(description="invalid input: the body names each field and the reason"),
    403: OpenApiResponse(description="the user's role does not allow this"),
    409: OpenApiResponse(description="the workflow refuses this now; `detail` says why"),
}


class IdFilter(django_filters.NumberFilter):
    """A filter on a row id: a number beyond what a database key holds is a 400 naming the parameter, not a query
    the database cannot run (SQLite overflows on it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_INT)
        super().__init__(*args, **kwargs)


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


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

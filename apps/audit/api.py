"""REST API for the audit trail: auditors (and superusers) list, export and verify events."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import role_permission
from apps.accounts.roles import Role
from apps.audit.export import EXPORT_FORMATS, export_response
from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditEvent
from apps.audit.report import verify_trail
from apps.audit.serializers import AuditEventSerializer, ChainReportSerializer
from apps.core.api import Pagination


class AnyAccept(BaseContentNegotiation):
    """The export is a file download: answer with it whatever the client's Accept header says."""

    def select_parser(self, request: Request, parsers: list) -> object:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [role_permission(Role.AUDITOR)]
    pagination_class = Pagination
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    queryset = AuditEvent.objects.all()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "file_format", enum=list(EXPORT_FORMATS), default="csv", description="csv or json download"
            )
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the filtered events, oldest first"),
            (200, "application/json"): OpenApiResponse(OpenApiTypes.ANY),
            400: OpenApiResponse(description="unknown file_format or filter value"),
        },
    )
    @action(detail=False, methods=["get"], content_negotiation_class=AnyAccept)
    def export(self, request: Request) -> Response:
        """Download the events matching the filters as CSV or JSON."""
        fmt = request.query_params.get("file_format", "csv")
        if fmt not in EXPORT_FORMATS:
            return Response({"file_format": [f"must be one of {', '.join(EXPORT_FORMATS)}"]}, status=400)
        return export_response(self.filter_queryset(self.get_queryset()), fmt)

    @extend_schema(responses={200: ChainReportSerializer})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def verify(self, request: Request) -> Response:
        """Walk the hash chain, hold it against every signed checkpoint, and name what does not match."""
        return Response(verify_trail().as_dict())

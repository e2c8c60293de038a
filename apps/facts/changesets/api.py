"""REST API for change sets: thin views over apps.facts.actions (start_import, review_change_set, ...)."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import HasAnyRole, role_permission
from apps.accounts.roles import Role
from apps.core.api import REFUSALS, Pagination, WriteThrottle
from apps.facts import actions
from apps.facts.changesets.files import format_for
from apps.facts.changesets.queries import import_report
from apps.facts.changesets.serializers import (
    ChangeSetReviewCreateSerializer,
    ChangeSetReviewSerializer,
    ChangeSetSerializer,
    ChangeSetSummarySerializer,
    ChangeSetUploadSerializer,
    ExcludeRowsSerializer,
    ImportReportSerializer,
    summary_data,
)
from apps.facts.models import ChangeSet, ImportChannel


def start_upload(request: Request, channel: str = ImportChannel.API) -> Response:
    """Accept an upload as a new change set (202): the rows are read by a worker; follow its progress."""
    form = ChangeSetUploadSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    data = form.validated_data
    fmt = data.get("format") or format_for(data["file"].name or "")
    if fmt is None:
        return Response(
            {"format": ["cannot tell the format from the file name; give format=jsonl or csv"]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    change_set = actions.start_import(
        request.user,
        data["model_line"],
        data["file"],
        fmt,
        channel=channel,
        rationale=data["rationale"],
        source=data["source"],
    )
    return Response(ChangeSetSerializer(change_set).data, status=status.HTTP_202_ACCEPTED)


class ChangeSetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Bulk imports as change sets. Everyone with a role reads; curators upload; reviewers decide the set
    as a whole (never their own import), and exclude rows; its importer resubmits it after changes."""

    permission_classes = [HasAnyRole]
    throttle_classes = [WriteThrottle]
    pagination_class = Pagination
    serializer_class = ChangeSetSerializer
    filterset_fields = ["state", "model_line"]

    def get_permissions(self) -> list:
        needed = {
            "create": (Role.CURATOR,),
            "resubmit": (Role.CURATOR,),
            "review": (Role.REVIEWER,),
            "exclude": (Role.REVIEWER, Role.CURATOR),
        }.get(self.action)
        if needed is not None:
            return [role_permission(*needed)()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[ChangeSet]:
        return ChangeSet.objects.select_related("model_line", "importer").defer("upload")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return ChangeSetUploadSerializer if self.action == "create" else ChangeSetSerializer

    @extend_schema(
        request={"multipart/form-data": ChangeSetUploadSerializer},
        responses={202: ChangeSetSerializer, **REFUSALS},
    )
    def create(self, request: Request) -> Response:
        """Upload ZsRE JSONL or CSV: answers at once with the new set (`importing`); poll it for progress."""
        return start_upload(request)

    @extend_schema(responses={200: ImportReportSerializer})
    @action(detail=True, methods=["get"])
    def report(self, request: Request, pk: str) -> Response:
        """The import's progress and every refused row with its line and reason."""
        return Response(ImportReportSerializer(import_report(self.get_object())).data)

    @extend_schema(responses={200: ChangeSetSummarySerializer})
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, pk: str) -> Response:
        """What reviewers weigh: rows by state, refusals, conflicts side by side, the seeded sample of K rows
        with production's cached answer (null: none yet; the web process never runs the model)."""
        return Response(ChangeSetSummarySerializer(summary_data(self.get_object())).data)

    @extend_schema(request=ChangeSetReviewCreateSerializer, responses={201: ChangeSetReviewSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str) -> Response:
        """Approve, reject or request changes to the whole set, with a comment (and the revision you saw)."""
        form = ChangeSetReviewCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        review = actions.review_change_set(request.user, self.get_object(), **form.validated_data)
        return Response(ChangeSetReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ExcludeRowsSerializer, responses={200: ChangeSetSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def exclude(self, request: Request, pk: str) -> Response:
        """Take rows (fact ids) out of the set with a reason; the set's approvals so far no longer count."""
        form = ExcludeRowsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        change_set = actions.exclude_rows(request.user, self.get_object(), **form.validated_data)
        return Response(ChangeSetSerializer(change_set).data)

    @extend_schema(request=None, responses={200: ChangeSetSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def resubmit(self, request: Request, pk: str) -> Response:
        """Send a set back to review after changes were requested (a new revision, a new sample)."""
        return Response(ChangeSetSerializer(actions.resubmit_change_set(request.user, self.get_object())).data)

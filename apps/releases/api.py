"""REST API of the release pipeline: versions, batches, promotions, probes, full checks and the operator actions."""

import django_filters
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import HasAnyRole, role_permission
from apps.accounts.roles import Role
from apps.core.api import REFUSALS, IdFilter, Pagination, WriteThrottle
from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine
from apps.releases import actions
from apps.releases.checkreport import export_response
from apps.releases.models import Batch, BatchState, FactCheck, ModelVersion, Probe, Promotion, VersionState
from apps.releases.serializers import (
    BatchDetailSerializer,
    BatchSerializer,
    FactCheckRequestSerializer,
    FactCheckSerializer,
    LineProbeRequestSerializer,
    ProbeRequestSerializer,
    ProbeSerializer,
    PromotionSerializer,
    ReasonSerializer,
    ReleaseNowSerializer,
    RevertSerializer,
    VersionSerializer,
)

OPERATOR_ACTIONS = {"promote", "hold", "rollback", "release_now", "revert", "resend", "cancel"}


class VersionFilter(django_filters.FilterSet):
    model_line = IdFilter(field_name="model_line_id")
    state = django_filters.MultipleChoiceFilter(choices=VersionState.choices)

    class Meta:
        model = ModelVersion
        fields = ["model_line", "state", "number"]


class _ReadOnly(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [HasAnyRole]
    throttle_classes = [WriteThrottle]
    pagination_class = Pagination

    def get_permissions(self) -> list:
        if self.action in OPERATOR_ACTIONS:
            return [role_permission(Role.OPERATOR)()]
        return super().get_permissions()


def _reason(request: Request) -> str:
    form = ReasonSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    return form.validated_data["reason"]


class VersionViewSet(_ReadOnly):
    serializer_class = VersionSerializer
    queryset = ModelVersion.objects.select_related("model_line", "parent").order_by("model_line_id", "-number")
    filterset_class = VersionFilter

    @extend_schema(request=ReasonSerializer, responses={200: PromotionSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def promote(self, request: Request, pk: str) -> Response:
        """Point production at this version (a held or older one), with a reason."""
        promotion = actions.promote(request.user, self.get_object(), _reason(request))
        return Response(PromotionSerializer(promotion).data)

    @extend_schema(request=ReasonSerializer, responses={200: PromotionSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, pk: str) -> Response:
        """Stop a candidate from being promoted; its facts are held."""
        promotion = actions.hold(request.user, self.get_object(), _reason(request))
        return Response(PromotionSerializer(promotion).data)

    @extend_schema(request=ReasonSerializer, responses={200: PromotionSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str) -> Response:
        """Point production back at this earlier version, exactly; later facts become rolled back."""
        promotion = actions.rollback(request.user, self.get_object(), _reason(request))
        return Response(PromotionSerializer(promotion).data)

    @extend_schema(request=ProbeRequestSerializer, responses={202: ProbeSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def probe(self, request: Request, pk: str) -> Response:
        """Ask this version a prompt; poll /api/probes/{id}/ for the greedy answer."""
        form = ProbeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        probe = actions.request_probe(request.user, self.get_object(), **form.validated_data)
        return Response(ProbeSerializer(probe).data, status=status.HTTP_202_ACCEPTED)


class BatchFilter(django_filters.FilterSet):
    model_line = IdFilter(field_name="model_line_id")
    state = django_filters.MultipleChoiceFilter(choices=BatchState.choices)

    class Meta:
        model = Batch
        fields = ["model_line", "state", "kind"]


class BatchViewSet(_ReadOnly):
    queryset = Batch.objects.select_related("model_line", "version").order_by("-id")
    filterset_class = BatchFilter

    def get_serializer_class(self) -> type:
        return BatchDetailSerializer if self.action == "retrieve" else BatchSerializer

    @extend_schema(request=ReleaseNowSerializer, responses={201: BatchSerializer, **REFUSALS})
    @action(detail=False, methods=["post"], url_path="release-now")
    def release_now(self, request: Request) -> Response:
        """Cut the line's approved facts into a batch now, without waiting for its size or wait."""
        form = ReleaseNowSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        line = ModelLine.objects.filter(pk=form.validated_data["model_line"]).first()
        if line is None:
            raise ValidationError({"model_line": ["no model line with this id"]})
        batch = actions.release_now(request.user, line)
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RevertSerializer, responses={201: BatchSerializer, **REFUSALS})
    @action(detail=False, methods=["post"])
    def revert(self, request: Request) -> Response:
        """Take one applied fact out of production: a new version replays the later batches without it."""
        form = RevertSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        fact = FactEdit.objects.filter(pk=form.validated_data["fact"]).first()
        if fact is None:
            raise ValidationError({"fact": ["no fact with this id"]})
        batch = actions.revert_fact(request.user, fact, form.validated_data["reason"])
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: BatchSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        """Send a pending batch no worker has started to the workers again (after the broker lost it)."""
        return Response(BatchSerializer(actions.resend_batch(request.user, self.get_object())).data)

    @extend_schema(request=ReasonSerializer, responses={200: BatchSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel a pending batch no worker has started: it fails and its facts go back to approved."""
        return Response(BatchSerializer(actions.cancel_batch(request.user, self.get_object(), _reason(request))).data)


class PromotionViewSet(_ReadOnly):
    serializer_class = PromotionSerializer
    queryset = Promotion.objects.select_related("model_line", "version", "previous", "actor").order_by("-id")
    filterset_fields = ["model_line", "kind", "automatic"]


class ProbeViewSet(_ReadOnly):
    serializer_class = ProbeSerializer
    queryset = Probe.objects.select_related("model_line", "version").order_by("-id")
    filterset_fields = ["model_line", "version", "state"]

    @extend_schema(request=LineProbeRequestSerializer, responses={202: ProbeSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        """Ask a line's production version a prompt (any role); poll /api/probes/{id}/ for the answer.
        A line with no version yet answers 202 with `probe: null`: v0 is recorded first, then asked."""
        form = LineProbeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        probe = actions.request_line_probe(request.user, data["model_line"], data["prompt"], data["max_new_tokens"])
        if probe is None:
            detail = "the line has no version yet: a model worker records v0 (the base model), then answers"
            return Response({"probe": None, "detail": detail}, status=status.HTTP_202_ACCEPTED)
        return Response(ProbeSerializer(probe).data, status=status.HTTP_202_ACCEPTED)


class FactCheckViewSet(_ReadOnly):
    """Full checks of production: which of a line's applied facts it says, with the date (any role reads)."""

    serializer_class = FactCheckSerializer
    queryset = FactCheck.objects.select_related("model_line", "version", "requested_by").order_by("-id")
    filterset_fields = ["model_line", "state"]

    @extend_schema(request=FactCheckRequestSerializer, responses={202: FactCheckSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        """Ask production every applied fact of a line (an operator or an auditor); poll the check for its
        progress and report. 409 when the line has no production version or a check of it is running."""
        form = FactCheckRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        check = actions.request_full_check(request.user, form.validated_data["model_line"])
        return Response(FactCheckSerializer(check).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "text/csv"): str, (200, "application/json"): dict})
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> HttpResponse:
        """The report with every fact's line: `?as=csv` (default) or `?as=json`."""
        return export_response(self.get_object(), "json" if request.query_params.get("as") == "json" else "csv")

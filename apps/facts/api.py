"""REST API for facts and reviews: thin views over apps.facts.actions."""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import HasAnyRole, role_permission
from apps.accounts.roles import Role
from apps.core.api import REFUSALS, IdFilter, Pagination, WriteThrottle
from apps.facts import actions
from apps.facts.changesets.api import start_upload
from apps.facts.changesets.serializers import ChangeSetSerializer, ChangeSetUploadSerializer
from apps.facts.conflicts import find_conflicts, with_conflict_flag
from apps.facts.models import FactEdit, FactState, Review, ReviewDecision
from apps.facts.serializers import (
    FactCreateSerializer,
    FactDetailSerializer,
    FactSerializer,
    FactUpdateSerializer,
    ReviewCreateSerializer,
    ReviewSerializer,
    SupersedeSerializer,
    WithdrawSerializer,
)


class FactFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=FactState.choices)
    model_line = IdFilter(field_name="model_line_id")
    submitter = django_filters.CharFilter(field_name="submitter__username")
    mine = django_filters.BooleanFilter(method="filter_mine", label="only my facts")
    search = django_filters.CharFilter(method="filter_search", label="prompt or target contains")
    ordering = django_filters.OrderingFilter(fields=("created_at", "submitted_at", "approved_at", "id"))

    class Meta:
        model = FactEdit
        fields = ["state", "model_line", "submitter"]

    def filter_mine(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        user = self.request.user
        return queryset.filter(submitter=user) if value else queryset.exclude(submitter=user)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        from django.db.models import Q

        return queryset.filter(Q(prompt__icontains=value) | Q(target__icontains=value)) if value else queryset


class FactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Fact edits. Everyone with a role reads; curators create and edit their own; reviewers review."""

    permission_classes = [HasAnyRole]
    throttle_classes = [WriteThrottle]
    pagination_class = Pagination
    filterset_class = FactFilter

    def get_permissions(self) -> list:
        # Refuse the wrong role before looking at the body; finer rules (own fact) are apps.facts.permissions,
        # which the actions apply.
        needed = {"create": Role.CURATOR, "import_file": Role.CURATOR, "review": Role.REVIEWER}.get(self.action)
        if needed is not None:
            return [role_permission(needed)()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[FactEdit]:
        facts = FactEdit.objects.select_related("model_line", "submitter")
        if self.action == "list":
            facts = with_conflict_flag(facts)
        return facts

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return {
            "create": FactCreateSerializer,
            "retrieve": FactDetailSerializer,
            "partial_update": FactUpdateSerializer,
        }.get(self.action, FactSerializer)

    def _detail(
        self, fact: FactEdit, code: int = status.HTTP_200_OK, *, conflicts: list[FactEdit] | None = None
    ) -> Response:
        """The fact as FactDetailSerializer shows it; `conflicts` when the action already found them."""
        if conflicts is None:
            conflicts = find_conflicts(fact.model_line_id, fact.prompt, fact.target, exclude=fact)
        context = {
            **self.get_serializer_context(),
            "conflicts": conflicts,
            "just_created": code == status.HTTP_201_CREATED,
        }
        return Response(FactDetailSerializer(fact, context=context).data, status=code)

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(self.get_object())

    @extend_schema(request=FactCreateSerializer, responses={201: FactDetailSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        form = FactCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        created = actions.create_fact_with_conflicts(request.user, **form.validated_data)
        return self._detail(created.fact, status.HTTP_201_CREATED, conflicts=created.conflicts)

    @extend_schema(request=FactUpdateSerializer, responses={200: FactDetailSerializer, **REFUSALS})
    def partial_update(self, request: Request, pk: str) -> Response:
        fact = self.get_object()
        form = FactUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        fact = actions.update_fact(request.user, fact, **form.validated_data)
        return self._detail(fact)

    @extend_schema(request=None, responses={200: FactDetailSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        return self._detail(actions.submit_fact(request.user, self.get_object()))

    @extend_schema(request=WithdrawSerializer, responses={200: FactDetailSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        form = WithdrawSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._detail(actions.withdraw_fact(request.user, self.get_object(), form.validated_data["reason"]))

    @extend_schema(request=SupersedeSerializer, responses={200: FactDetailSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def supersede(self, request: Request, pk: str) -> Response:
        """Mark this fact as superseding another with the same prompt (clears the conflict with it)."""
        form = SupersedeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        fact = actions.mark_superseding(request.user, self.get_object(), form.validated_data["supersedes"])
        return self._detail(fact)

    @extend_schema(request=ReviewCreateSerializer, responses={201: ReviewSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str) -> Response:
        """Approve, reject or request changes, with a comment."""
        form = ReviewCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        review = actions.review_fact(request.user, self.get_object(), **form.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ChangeSetUploadSerializer},
        responses={202: ChangeSetSerializer, **REFUSALS},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_file(self, request: Request) -> Response:
        """Bulk import ZsRE JSONL or CSV as one change set (the same as POST /api/change-sets/): 202 at once,
        a worker reads the rows; GET /api/change-sets/{id}/report/ lists each refused row with its reason."""
        return start_upload(request)


class ReviewFilter(django_filters.FilterSet):
    fact = IdFilter(field_name="fact_id")
    reviewer = django_filters.CharFilter(field_name="reviewer__username")
    decision = django_filters.ChoiceFilter(choices=ReviewDecision.choices)

    class Meta:
        model = Review
        fields = ["fact", "reviewer", "decision"]


class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every review, newest last. Create one with POST /api/facts/{id}/review/."""

    permission_classes = [HasAnyRole]
    pagination_class = Pagination
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    queryset = Review.objects.select_related("reviewer", "fact")

"""REST API for model lines: everyone with a role reads, operators create and change."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import HasAnyRole, role_permission
from apps.accounts.roles import Role
from apps.core.api import REFUSALS, Pagination, WriteThrottle
from apps.modellines.actions import create_model_line, update_model_line
from apps.modellines.models import ModelLine
from apps.modellines.serializers import ModelLineSerializer


class ModelLineViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [HasAnyRole]
    throttle_classes = [WriteThrottle]
    pagination_class = Pagination
    serializer_class = ModelLineSerializer
    queryset = ModelLine.objects.select_related("created_by")
    filterset_fields = ["name"]

    def get_permissions(self) -> list:
        # Refuse the wrong role before looking at the body: a 403 says more than a 400 would.
        if self.action in {"create", "partial_update"}:
            return [role_permission(Role.OPERATOR)()]
        return super().get_permissions()

    @extend_schema(responses={201: ModelLineSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        form = ModelLineSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        line = create_model_line(request.user, **form.action_fields())
        return Response(ModelLineSerializer(line).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ModelLineSerializer, **REFUSALS})
    def partial_update(self, request: Request, pk: str) -> Response:
        line = self.get_object()
        form = ModelLineSerializer(line, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        line = update_model_line(request.user, line, **form.action_fields())
        return Response(ModelLineSerializer(line).data)

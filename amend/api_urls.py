"""The REST API, mounted at /api/ by amend/urls.py. Other parts register their viewsets on `router`."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from apps.accounts.api import MeView, MyTokenDetailView, MyTokensView, MyTokenView, SignInTokenView
from apps.audit.api import AuditEventViewSet
from apps.facts.api import FactViewSet, ReviewViewSet
from apps.facts.changesets.api import ChangeSetViewSet
from apps.modellines.api import ModelLineViewSet
from apps.releases.api_urls import router as releases_router

_swagger_styles = csp_update({"style-src": ["'unsafe-inline'"]})
router = DefaultRouter()
router.register("facts", FactViewSet, basename="fact")
router.register("reviews", ReviewViewSet, basename="review")
router.register("change-sets", ChangeSetViewSet, basename="changeset")
router.register("model-lines", ModelLineViewSet, basename="modelline")
router.register("audit/events", AuditEventViewSet, basename="auditevent")
# The release pipeline's resources (issue 4) on this router too, so the API root at /api/ lists them.
for prefix, viewset, basename in releases_router.registry:
    router.register(prefix, viewset, basename=basename)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (the Content-Security-Policy allows no inline
    # script); Swagger UI writes <style> elements, allowed on this page alone.
    path("docs/", _swagger_styles(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="api-docs"),
    path("auth/token/", SignInTokenView.as_view(), name="api-sign-in-token"),
    path("me/", MeView.as_view(), name="api-me"),
    path("me/token/", MyTokenView.as_view(), name="api-my-token"),
    path("me/tokens/", MyTokensView.as_view(), name="api-my-tokens"),
    path("me/tokens/<int:pk>/", MyTokenDetailView.as_view(), name="api-my-token-detail"),
    path("", include(router.urls)),
]

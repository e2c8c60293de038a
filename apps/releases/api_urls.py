"""The release pipeline's API routes, included under /api/ by amend/api_urls.py."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from apps.releases.api import BatchViewSet, ProbeViewSet, PromotionViewSet, VersionViewSet

router = SimpleRouter()
router.register("versions", VersionViewSet, basename="version")
router.register("batches", BatchViewSet, basename="batch")
router.register("promotions", PromotionViewSet, basename="promotion")
router.register("probes", ProbeViewSet, basename="probe")

urlpatterns = [path("", include(router.urls))]

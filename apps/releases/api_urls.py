"""The release pipeline's API resources; amend/api_urls.py registers them on the API root's router."""

from rest_framework.routers import SimpleRouter

from apps.releases.api import BatchViewSet, FactCheckViewSet, ProbeViewSet, PromotionViewSet, VersionViewSet

router = SimpleRouter()
router.register("versions", VersionViewSet, basename="version")
router.register("batches", BatchViewSet, basename="batch")
router.register("promotions", PromotionViewSet, basename="promotion")
router.register("probes", ProbeViewSet, basename="probe")
router.register("checks", FactCheckViewSet, basename="check")

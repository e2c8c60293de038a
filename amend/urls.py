from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # REST API, OpenAPI schema (/api/schema/) and browsable docs (/api/docs/).
    path("api/", include("amend.api_urls")),
    # Web UI (server-rendered pages) goes below, e.g. path("", include("apps.facts.urls")).
    path("", include("apps.accounts.urls")),
    path("", include("apps.facts.urls")),
    path("", include("apps.modellines.urls")),
    path("", include("apps.audit.urls")),
    path("", include("apps.releases.urls")),
]

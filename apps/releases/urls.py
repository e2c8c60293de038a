from django.urls import path

from apps.releases import check_views, views

urlpatterns = [
    path("releases/versions/<int:pk>/", views.version_detail, name="release_version"),
    path("releases/versions/<int:pk>/probe/", views.probe_create, name="release_probe_create"),
    path("releases/versions/<int:pk>/<slug:verb>/", views.version_action, name="release_version_action"),
    path("releases/batches/<int:pk>/", views.batch_detail, name="release_batch"),
    path("releases/lines/<slug:name>/probe/", views.line_probe_create, name="release_line_probe"),
    path("releases/lines/<slug:name>/release-now/", views.release_now, name="release_now"),
    path("releases/facts/<int:pk>/revert/", views.revert_fact, name="release_revert_fact"),
    path("releases/probes/<int:pk>/", views.probe_detail, name="release_probe"),
    path("releases/lines/<slug:name>/check/", check_views.line_check_create, name="release_line_check"),
    path("releases/checks/<int:pk>/", check_views.check_detail, name="release_check"),
    path("releases/checks/<int:pk>/export.<slug:fmt>", check_views.check_export, name="release_check_export"),
]

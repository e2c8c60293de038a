from django.urls import path

from apps.audit import views

urlpatterns = [
    path("audit/", views.audit_events, name="audit_events"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/export.csv", views.audit_export, {"fmt": "csv"}, name="audit_export_csv"),
    path("audit/export.json", views.audit_export, {"fmt": "json"}, name="audit_export_json"),
]

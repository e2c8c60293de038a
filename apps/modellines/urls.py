from django.urls import path

from apps.modellines import views

urlpatterns = [
    path("model-lines/", views.modelline_list, name="modelline_list"),
    path("model-lines/new/", views.modelline_create, name="modelline_create"),
    path("model-lines/<slug:name>/", views.modelline_detail, name="modelline_detail"),
    path("model-lines/<slug:name>/edit/", views.modelline_edit, name="modelline_edit"),
]

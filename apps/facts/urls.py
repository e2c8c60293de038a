from django.urls import path

from apps.facts import views
from apps.facts.changesets import views as changeset_views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("facts/new/", views.fact_create, name="fact_create"),
    path("facts/conflicts/", views.conflict_check, name="fact_conflicts"),
    path("facts/<int:pk>/", views.fact_detail, name="fact_detail"),
    path("facts/<int:pk>/edit/", views.fact_edit, name="fact_edit"),
    path("facts/<int:pk>/submit/", views.fact_submit, name="fact_submit"),
    path("facts/<int:pk>/withdraw/", views.fact_withdraw, name="fact_withdraw"),
    path("facts/<int:pk>/review/", views.fact_review, name="fact_review"),
    path("facts/<int:pk>/retry/", views.fact_retry, name="fact_retry"),
    path("facts/<int:pk>/reopen/", views.fact_reopen, name="fact_reopen"),
    path("facts/<int:pk>/supersede/", views.fact_supersede, name="fact_supersede"),
    path("reviews/", views.review_queue, name="review_queue"),
    path("change-sets/", changeset_views.change_set_list, name="change_set_list"),
    path("change-sets/new/", changeset_views.change_set_upload, name="change_set_upload"),
    path("change-sets/<int:pk>/", changeset_views.change_set_detail, name="change_set_detail"),
    path("change-sets/<int:pk>/review/", changeset_views.change_set_review, name="change_set_review"),
    path("change-sets/<int:pk>/exclude/", changeset_views.change_set_exclude, name="change_set_exclude"),
    path("change-sets/<int:pk>/resubmit/", changeset_views.change_set_resubmit, name="change_set_resubmit"),
]

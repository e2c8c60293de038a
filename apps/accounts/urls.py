from django.urls import path

from apps.accounts import views

urlpatterns = [
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", views.SignOutView.as_view(), name="logout"),
    path("accounts/token/", views.my_token, name="my_token"),
    path("accounts/token/<int:pk>/revoke/", views.revoke_my_token, name="revoke_my_token"),
]

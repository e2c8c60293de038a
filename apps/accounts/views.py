"""Sign-in, sign-out and the page where a user gets their API token."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from apps.accounts.ui import role_required


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = False


class SignOutView(auth_views.LogoutView):
    """POST only (Django's rule): a link cannot sign anyone out behind their back."""


@role_required()
@require_http_methods(["GET", "POST"])
def my_token(request: HttpRequest) -> HttpResponse:
    """Show the user's REST API token; POST creates one or replaces the old one."""
    if request.method == "POST":
        with transaction.atomic():
            Token.objects.filter(user=request.user).delete()
            Token.objects.create(user=request.user)
        messages.success(request, "A new API token was created. The old one no longer works.")
        return redirect("my_token")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "accounts/token.html", {"token": token, "section": "token"})

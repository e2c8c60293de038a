"""Sign-in (throttled per address and per user name and address, with backoff), sign-out, a user's API tokens."""

import math

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import actions
from apps.accounts.models import ApiToken
from apps.accounts.queries import live_tokens
from apps.accounts.throttling import sign_in_failed, sign_in_succeeded, sign_in_wait
from apps.accounts.ui import role_required


class SignInForm(AuthenticationForm):
    def clean(self) -> dict:
        # Before the password is checked: a refused attempt must not tell a guesser whether it was right.
        username = self.data.get("username")
        wait = sign_in_wait(self.request, username)
        if wait is not None:
            raise ValidationError(
                f"Too many sign-in attempts. Try again in {math.ceil(wait)} seconds.", code="throttled"
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            sign_in_failed(self.request, username)
            raise
        sign_in_succeeded(self.request, username)
        return cleaned


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    form_class = SignInForm
    redirect_authenticated_user = False

    def form_invalid(self, form: SignInForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
        return response


class SignOutView(auth_views.LogoutView):
    """POST only (Django's rule): a link cannot sign anyone out behind their back."""


_NEW_KEY = "amend_new_api_token"


@role_required()
@require_http_methods(["GET", "POST"])
def my_token(request: HttpRequest) -> HttpResponse:
    """The user's API tokens (names, first characters, expiry); POST issues a new one, shown on the next page only.

    The new key waits in the server-side session for that one page and is removed as it is shown, so a reload
    (or the back button) never shows it again.
    """
    if request.method == "POST":
        issued = actions.issue_token(request.user, name=request.POST.get("name", "").strip())
        request.session[_NEW_KEY] = {"key": issued.key, "id": issued.token.pk}
        return redirect("my_token")
    shown = request.session.pop(_NEW_KEY, None)
    issued = None
    if shown is not None:
        token = ApiToken.objects.filter(pk=shown["id"], user=request.user).first()
        issued = actions.IssuedToken(token, shown["key"]) if token is not None else None
    context = {"issued": issued, "tokens": list(live_tokens(request.user)), "section": "token"}
    response = render(request, "accounts/token.html", context)
    response["Cache-Control"] = "no-store"  # the new token must not stay in any cache
    return response


@role_required()
@require_POST
def revoke_my_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user, revoked_at__isnull=True)
    actions.revoke_token(request.user, token)
    messages.success(request, f"The token {token.prefix}… was revoked: it no longer works.")
    return redirect("my_token")

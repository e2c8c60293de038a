"""Helpers shared by the server-rendered pages: role checks and turning service errors into form errors.

Anonymous visitors are sent to the sign-in page (and come back after signing in); a signed-in
user without the role gets the 403 page, so nobody is bounced in a sign-in loop.
"""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.accounts.roles import Role, has_role
from apps.core.errors import TransitionError

View = Callable[..., HttpResponse]


def role_required(*roles: Role) -> Callable[[View], View]:
    """Let the view run for a user holding any of `roles`; with no roles, any signed-in user."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if roles and not any(has_role(request.user, role) for role in roles):
                names = " or ".join(role.value for role in roles)
                raise PermissionDenied(f"This page is for the {names} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def any_role_required(view: View) -> View:
    """Any of the four roles: the pages that show facts to the people who work with them."""
    return role_required(*Role)(view)


def apply_validation_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service function's ValidationError on the form: on the field it names, else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, reasons in error.message_dict.items():
        if field in form.fields:
            label = form.fields[field].label or field.replace("_", " ").capitalize()
            form.add_error(field, [_with_subject(label, reason) for reason in reasons])
        else:
            form.add_error(None, [_with_subject(field.replace("_", " ").capitalize(), r) for r in reasons])


def page_action(
    request: HttpRequest,
    run: Callable[[], str],
    page: Callable[..., HttpResponse],
    then: Callable[[], str],
    form: forms.Form | None = None,
) -> HttpResponse:
    """One write from a page's form. `run` calls the action and returns what to tell the user; success ->
    that message and the page at `then()`. An invalid form or a refusal renders `page(status=..., error=...)`
    again, read afresh: 400 with the field errors (on `form`) or the reason, 409 with the workflow's reason."""
    if form is not None and not form.is_valid():
        return page(status=400)
    try:
        done = run()
    except TransitionError as error:
        return page(status=409, error=error.reason)
    except ValidationError as error:
        if form is None:
            return page(status=400, error=" ".join(error.messages))
        apply_validation_error(form, error)
        return page(status=400)
    messages.success(request, done)
    return redirect(then())


def _with_subject(label: str, message: str) -> str:
    """The services say "must not be empty"; the page says "Prompt must not be empty".
    A message that is already a sentence ("Model line with this Name already exists.") stays as it is."""
    return f"{label} {message}" if message[:1].islower() else message

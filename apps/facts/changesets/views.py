"""Pages of change sets: upload, the list, and one set's page with its summary, sample and decisions.

Views stay thin: they read through apps.facts.changesets.queries and hand every change to
apps.facts.actions; the forms a page offers come from apps.facts.permissions. A refusal re-renders
the set's page with the reason (409) or the field errors (400), like the fact pages.
"""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import Role
from apps.accounts.ui import any_role_required, apply_validation_error, page_action, role_required
from apps.facts import actions, permissions
from apps.facts.changesets.files import format_for
from apps.facts.changesets.serializers import summary_data
from apps.facts.forms import ChangeSetReviewForm, ChangeSetUploadForm, ExcludeRowsForm
from apps.facts.models import ChangeSet, ChangeSetState, ImportChannel

LIST_PAGE_SIZE = 25
# Refused rows listed on the page; the API's report has them all.
SHOWN_REFUSED = 200


def _get(pk: int) -> ChangeSet:
    return get_object_or_404(ChangeSet.objects.select_related("model_line", "importer").defer("upload"), pk=pk)


def _page(
    request: HttpRequest,
    change_set: ChangeSet,
    *,
    status: int = 200,
    error: str = "",
    review_form: ChangeSetReviewForm | None = None,
    exclude_form: ExcludeRowsForm | None = None,
) -> HttpResponse:
    """The set's page; also what a refused decision re-renders, with its reason."""
    can = permissions.offered_change_set_actions(request.user, change_set)
    context = {
        "change_set": change_set,
        "importing": change_set.state == ChangeSetState.IMPORTING,
        "can": can,
        "own": permissions.imported_by(request.user, change_set),
        "error": error,
        "refused": change_set.refused[:SHOWN_REFUSED],
        "review_form": review_form or ChangeSetReviewForm(initial={"revision": change_set.revision}),
        "exclude_form": exclude_form or ExcludeRowsForm(),
        "reviews": change_set.reviews.select_related("reviewer"),
        "section": "change_sets",
    }
    if not context["importing"]:
        context.update(summary_data(change_set))
    return render(request, "facts/change_set.html", context, status=status)


@any_role_required
@require_GET
def change_set_list(request: HttpRequest) -> HttpResponse:
    """Every change set, newest first; `?state=submitted` is what waits for reviewers."""
    state = request.GET.get("state", "")
    sets = ChangeSet.objects.select_related("model_line", "importer").defer("upload")
    if state in ChangeSetState.values:
        sets = sets.filter(state=state)
    page = Paginator(sets, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "state": state, "states": ChangeSetState.choices, "section": "change_sets"}
    return render(request, "facts/change_sets.html", context)


@role_required(Role.CURATOR)
@require_http_methods(["GET", "POST"])
def change_set_upload(request: HttpRequest) -> HttpResponse:
    """Upload a file: the page answers at once and the set's page shows the import's progress."""
    form = ChangeSetUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            fmt = format_for(data["file"].name or "")
            try:
                if fmt is None:
                    raise ValidationError({"file": "must be a .jsonl or a .csv file"})
                change_set = actions.start_import(
                    request.user,
                    data["model_line"],
                    data["file"],
                    fmt,
                    channel=ImportChannel.UI,
                    rationale=data["rationale"],
                    source=data["source"],
                )
            except ValidationError as error:
                apply_validation_error(form, error)
            else:
                messages.success(request, f"Change set #{change_set.pk} is being imported.")
                return redirect("change_set_detail", pk=change_set.pk)
    return render(request, "facts/change_set_upload.html", {"form": form, "section": "change_sets"}, status=status)


@any_role_required
@require_GET
def change_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _get(pk))


def _run(request: HttpRequest, change_set: ChangeSet, run: Callable[[], str], **forms) -> HttpResponse:
    """Run one action for the set's page: success -> back to the page with what `run` says."""
    return page_action(
        request,
        run,
        page=lambda **shown: _page(request, _get(change_set.pk), **forms, **shown),
        then=lambda: reverse("change_set_detail", args=[change_set.pk]),
        form=next((f for f in forms.values() if f is not None), None),
    )


@role_required(Role.REVIEWER)
@require_POST
def change_set_review(request: HttpRequest, pk: int) -> HttpResponse:
    change_set = _get(pk)
    form = ChangeSetReviewForm(request.POST)

    def review() -> str:
        data = form.cleaned_data
        actions.review_change_set(
            request.user, change_set, data["decision"], data["comment"], revision=data["revision"]
        )
        return f"Your decision on change set #{change_set.pk} is recorded ({change_set.get_state_display().lower()})."

    return _run(request, change_set, review, review_form=form)


@role_required(Role.REVIEWER, Role.CURATOR)
@require_POST
def change_set_exclude(request: HttpRequest, pk: int) -> HttpResponse:
    change_set = _get(pk)
    form = ExcludeRowsForm(request.POST)

    def exclude() -> str:
        rows = form.cleaned_data["rows"]
        actions.exclude_rows(request.user, change_set, rows, form.cleaned_data["reason"])
        return f"{len(rows)} row{'s' if len(rows) != 1 else ''} excluded; the set's approvals so far no longer count."

    return _run(request, change_set, exclude, exclude_form=form)


@role_required(Role.CURATOR)
@require_POST
def change_set_resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    change_set = _get(pk)

    def resubmit() -> str:
        actions.resubmit_change_set(request.user, change_set)
        return f"Change set #{change_set.pk} is back in review."

    return _run(request, change_set, resubmit)

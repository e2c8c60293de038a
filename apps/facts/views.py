"""Pages of the fact workflow: dashboard, submission, review queue, fact page with its timeline.

Views stay thin: they read models to show them and hand every change to apps.facts.actions,
which checks roles and states. The buttons a page offers come from apps.facts.permissions, the
rules the actions enforce. A refused transition re-renders the page with the reason and
HTTP 409; bad input re-renders the form with the field errors and HTTP 400.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import Role, has_role
from apps.accounts.ui import any_role_required, apply_validation_error, page_action, role_required
from apps.audit.models import AuditEvent
from apps.core.errors import TransitionError
from apps.facts import actions, outcomes, permissions
from apps.facts.conflicts import blocking_conflicts, find_conflicts, find_duplicate, with_conflict_flag
from apps.facts.forms import FactContentForm, FactSubmissionForm, ReviewForm, WithdrawForm
from apps.facts.models import ChangeSet, ChangeSetState, FactEdit, FactState, ReviewDecision
from apps.facts.queries import next_to_review, submitted_queue
from apps.facts.states import EDITABLE_STATES, FACT_STATES
from apps.facts.timeline import fact_timeline
from apps.modellines.models import ModelLine

QUEUE_PAGE_SIZE = 20
DASHBOARD_PAGE_SIZE = 25

# States whose reason the curator needs to read at the top of the fact page.
EXPLAINED_STATES = {
    FactState.CHANGES_REQUESTED,
    FactState.REJECTED,
    FactState.WITHDRAWN,
    FactState.HELD,
    FactState.REGRESSED,
    FactState.ROLLED_BACK,
    FactState.REVERTED,
}


def _fact_page(
    request: HttpRequest,
    fact: FactEdit,
    *,
    status: int = 200,
    error: str = "",
    review_form: ReviewForm | None = None,
    withdraw_form: WithdrawForm | None = None,
) -> HttpResponse:
    """The fact page; also what a refused action re-renders, with its reason."""
    user = request.user
    conflicts = find_conflicts(fact.model_line_id, fact.prompt, fact.target, exclude=fact)
    blocking = {other.pk for other in blocking_conflicts(fact)} if conflicts else set()
    can = permissions.offered_actions(user, fact, has_conflicts=bool(conflicts))
    context = {
        "fact": fact,
        "timeline": fact_timeline(fact),
        "conflicts": [(other, other.pk in blocking) for other in conflicts],
        "approvals": permissions.current_approvals(fact),
        "approvals_required": fact.model_line.approvals_required,
        "can": can,
        "is_owner": permissions.submitted_by(user, fact),
        "review_form": review_form or ReviewForm(),
        "withdraw_form": withdraw_form or WithdrawForm(),
        "error": error,
        "explain_state": fact.state in EXPLAINED_STATES and bool(fact.state_reason),
        "outcome": outcomes.outcome(fact),
        "section": "reviews" if can["review"] else "dashboard",
    }
    return render(request, "facts/detail.html", context, status=status)


def _get_fact(pk: int) -> FactEdit:
    return get_object_or_404(FactEdit.objects.select_related("model_line", "submitter", "supersedes"), pk=pk)


@role_required()
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Everyone's start page; a curator sees their facts grouped by state."""
    user = request.user
    context: dict[str, Any] = {"section": "dashboard"}
    if has_role(user, Role.CURATOR):
        mine = FactEdit.objects.filter(submitter=user)
        counts = dict(mine.values_list("state").annotate(n=Count("id")).order_by())
        state = request.GET.get("state", "")
        if state and state not in FactState.values:
            state = ""
        shown = with_conflict_flag(mine.filter(state=state) if state else mine).select_related("model_line")
        page = Paginator(shown.order_by("-updated_at", "-id"), DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            state_counts=[(value, label, counts.get(value, 0)) for value, label in FACT_STATES.items()],
            total=sum(counts.values()),
            state=state,
            page=page,
        )
    if has_role(user, Role.REVIEWER):
        context["queue_count"] = submitted_queue().exclude(submitter=user).count()
        context["change_set_count"] = (
            ChangeSet.objects.filter(state=ChangeSetState.SUBMITTED).exclude(importer=user).count()
        )
    if has_role(user, Role.OPERATOR):
        context["model_lines"] = ModelLine.objects.annotate(n_facts=Count("facts")).order_by("name")[:10]
    if has_role(user, Role.AUDITOR):
        context["recent_events"] = AuditEvent.objects.order_by("-id")[:8]
    return render(request, "facts/dashboard.html", context)


def _submission_page(
    request: HttpRequest, form: FactSubmissionForm, *, status: int = 200, conflicts=None, error: str = ""
) -> HttpResponse:
    context = {
        "form": form,
        "conflicts": conflicts,
        "checked": conflicts is not None,
        "error": error,
        "section": "submit",
        "chosen_supersedes": str(form.data.get("supersedes", "")) if form.is_bound else "",
    }
    return render(request, "facts/submit.html", context, status=status)


@role_required(Role.CURATOR)
@require_http_methods(["GET", "POST"])
def fact_create(request: HttpRequest) -> HttpResponse:
    """Submit a fact. "Check" (or a first submit that collides) shows the conflicts before anything is saved."""
    if request.method == "GET":
        lines = ModelLine.objects.order_by("name")
        initial = {"model_line": request.GET.get("model_line") or (lines[0].pk if len(lines) == 1 else None)}
        return _submission_page(request, FactSubmissionForm(initial=initial))
    form = FactSubmissionForm(request.POST)
    intent = request.POST.get("intent", "submit")
    if not form.is_valid():
        return _submission_page(request, form, status=400)
    line = form.cleaned_data["model_line"]
    supersedes = form.cleaned_data["supersedes"]
    conflicts = find_conflicts(line, form.cleaned_data["prompt"], form.cleaned_data["target"])
    unconfirmed = conflicts and not supersedes and not request.POST.get("confirm_conflicts")
    if intent == "check" or (intent == "submit" and unconfirmed):
        return _submission_page(request, form, conflicts=conflicts)
    try:
        fact = actions.create_fact(
            request.user, line, **form.content(), submit=intent != "draft", supersedes=supersedes
        )
    except ValidationError as error:
        apply_validation_error(form, error)
        return _submission_page(request, form, status=400)
    except TransitionError as error:
        return _submission_page(request, form, status=409, error=error.reason)
    if fact.state == FactState.DRAFT:
        messages.success(request, f"Fact #{fact.pk} was saved as a draft. Submit it when it is ready.")
    else:
        messages.success(request, f"Fact #{fact.pk} was submitted for review.")
    return redirect("fact_detail", pk=fact.pk)


@role_required(Role.CURATOR)
@require_GET
def conflict_check(request: HttpRequest) -> JsonResponse:
    """Live conflict check for the submission form: the facts a submission would collide with."""
    line_id = request.GET.get("model_line", "")
    prompt = request.GET.get("prompt", "")
    target = request.GET.get("target", "")
    exclude = request.GET.get("exclude") or None
    if not line_id.isdigit() or not ModelLine.objects.filter(pk=line_id).exists():
        return JsonResponse({"errors": {"model_line": "choose an existing model line"}}, status=400)
    if exclude is not None and not exclude.isdigit():
        return JsonResponse({"errors": {"exclude": "must be a fact id"}}, status=400)
    if not prompt.strip() or not target.strip():
        return JsonResponse({"conflicts": [], "duplicate": None, "html": ""})
    exclude_id = int(exclude) if exclude else None
    conflicts = find_conflicts(int(line_id), prompt, target, exclude=exclude_id)
    duplicate = find_duplicate(int(line_id), prompt, target, exclude=exclude_id)

    def brief(fact: FactEdit) -> dict:
        url = reverse("fact_detail", args=[fact.pk])
        return {"id": fact.pk, "prompt": fact.prompt, "target": fact.target, "state": fact.state, "url": url}

    html = render_to_string(
        "facts/_conflicts.html",
        {"conflicts": conflicts, "duplicate": duplicate, "checked": True, "selectable": exclude_id is None},
        request=request,
    )
    return JsonResponse(
        {
            "conflicts": [brief(fact) for fact in conflicts],
            "duplicate": brief(duplicate) if duplicate else None,
            "html": html,
        }
    )


@any_role_required
@require_GET
def fact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _fact_page(request, _get_fact(pk))


@role_required(Role.CURATOR)
@require_http_methods(["GET", "POST"])
def fact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a draft or a fact sent back for changes; "save and submit" sends it back to the queue."""
    fact = _get_fact(pk)
    if not permissions.acts_as_curator_of(request.user, fact):
        raise PermissionDenied("Only the curator who submitted this fact can edit it.")
    if request.method == "GET":
        initial = {name: getattr(fact, name) for name in FactContentForm.CONTENT_FIELDS}
        return _edit_page(request, fact, FactContentForm(initial=initial))
    form = FactContentForm(request.POST)
    if not form.is_valid():
        return _edit_page(request, fact, form, status=400)
    save = actions.update_and_submit_fact if request.POST.get("intent") == "submit" else actions.update_fact
    try:
        save(request.user, fact, **form.content())
    except ValidationError as error:
        apply_validation_error(form, error)
        return _edit_page(request, fact, form, status=400)
    except TransitionError as error:
        return _edit_page(request, fact, form, status=409, error=error.reason)
    fact.refresh_from_db()
    messages.success(request, f"Fact #{fact.pk} was saved ({fact.get_state_display().lower()}).")
    return redirect("fact_detail", pk=fact.pk)


def _edit_page(
    request: HttpRequest, fact: FactEdit, form: FactContentForm, *, status: int = 200, error: str = ""
) -> HttpResponse:
    if fact.state not in EDITABLE_STATES and not error:
        error = f"A {fact.get_state_display().lower()} fact can no longer be edited."
        status = 409 if request.method == "POST" else status
    context = {"fact": fact, "form": form, "error": error, "section": "dashboard"}
    return render(request, "facts/edit.html", context, status=status)


def _run_fact_action(
    request: HttpRequest,
    fact: FactEdit,
    run: Callable[[], str],
    *,
    review_form: ReviewForm | None = None,
    withdraw_form: WithdrawForm | None = None,
    then: Callable[[], str] | None = None,
) -> HttpResponse:
    """Run one service call for the fact page (`run` returns what to tell the user once it is done):
    success -> `then()` (default: back to the fact page) with that message; an invalid form or a
    refusal -> the page again with the field errors (400) or the reason (409)."""
    forms = {"review_form": review_form, "withdraw_form": withdraw_form}

    def page(**shown: object) -> HttpResponse:
        fact.refresh_from_db()
        return _fact_page(request, fact, **forms, **shown)

    return page_action(
        request,
        run,
        page=page,
        then=then or (lambda: reverse("fact_detail", args=[fact.pk])),
        form=review_form or withdraw_form,
    )


@role_required(Role.CURATOR)
@require_POST
def fact_submit(request: HttpRequest, pk: int) -> HttpResponse:
    fact = _get_fact(pk)

    def submit() -> str:
        actions.submit_fact(request.user, fact)
        return f"Fact #{fact.pk} was submitted for review."

    return _run_fact_action(request, fact, submit)


@role_required(Role.CURATOR, Role.OPERATOR)
@require_POST
def fact_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    fact = _get_fact(pk)
    form = WithdrawForm(request.POST)

    def withdraw() -> str:
        actions.withdraw_fact(request.user, fact, reason=form.cleaned_data["reason"])
        return f"Fact #{fact.pk} was withdrawn."

    return _run_fact_action(request, fact, withdraw, withdraw_form=form)


@role_required(Role.CURATOR, Role.OPERATOR)
@require_POST
def fact_retry(request: HttpRequest, pk: int) -> HttpResponse:
    fact = _get_fact(pk)

    def retry() -> str:
        actions.retry_fact(request.user, fact)
        return f"Fact #{fact.pk} is approved again, as it is: the next batch takes it."

    return _run_fact_action(request, fact, retry)


@role_required(Role.CURATOR)
@require_POST
def fact_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    fact = _get_fact(pk)

    def reopen() -> str:
        actions.reopen_fact(request.user, fact)
        return f"Fact #{fact.pk} is open for changes: edit it, then submit it for review."

    return _run_fact_action(request, fact, reopen)


# What the reviewer is told once their review is saved.
REVIEW_DONE = {
    ReviewDecision.APPROVE: "You approved fact #{pk}.",
    ReviewDecision.REJECT: "You rejected fact #{pk}.",
    ReviewDecision.REQUEST_CHANGES: "You sent fact #{pk} back to its curator for changes.",
}


@role_required(Role.REVIEWER)
@require_POST
def fact_review(request: HttpRequest, pk: int) -> HttpResponse:
    fact = _get_fact(pk)
    form = ReviewForm(request.POST)

    following: list[FactEdit | None] = []

    def review() -> str:
        decision = form.cleaned_data["decision"]
        actions.review_fact(request.user, fact, decision, form.cleaned_data["comment"])
        following.append(next_to_review(request.user, fact))
        after = f" Next in the queue: fact #{following[0].pk}." if following[0] else " The queue is empty."
        return REVIEW_DONE[decision].format(pk=fact.pk) + after

    def next_fact() -> str:
        """On to the next fact in the queue; the queue itself once it is empty."""
        return reverse("fact_detail", args=[following[0].pk]) if following[0] else reverse("review_queue")

    return _run_fact_action(request, fact, review, review_form=form, then=next_fact)


@role_required(Role.CURATOR, Role.REVIEWER, Role.OPERATOR)
@require_POST
def fact_supersede(request: HttpRequest, pk: int) -> HttpResponse:
    fact = _get_fact(pk)
    other_id = request.POST.get("other", "")
    if not other_id.isdigit():
        return _fact_page(request, fact, status=400, error="Choose the fact this one supersedes.")

    def supersede() -> str:
        actions.mark_superseding(request.user, fact, int(other_id))
        return f"Fact #{fact.pk} now supersedes fact #{other_id}."

    return _run_fact_action(request, fact, supersede)


@role_required(Role.REVIEWER)
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    """Submitted facts, oldest first, conflicts flagged with the other fact shown beside."""
    line = request.GET.get("model_line", "")
    facts = with_conflict_flag(submitted_queue(int(line) if line.isdigit() else None))
    page = Paginator(facts, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    items = []
    for fact in page:
        conflicts = []
        if fact.has_conflict:
            conflicts = find_conflicts(fact.model_line_id, fact.prompt, fact.target, exclude=fact)
        items.append({"fact": fact, "conflicts": conflicts, "own": permissions.submitted_by(request.user, fact)})
    context = {
        "page": page,
        "items": items,
        "model_lines": ModelLine.objects.order_by("name"),
        # Context for reviewers: facts already approved that production no longer says ride their line's next
        # batch without a new review.
        "regressed_lines": ModelLine.objects.annotate(
            n_regressed=Count("facts", filter=Q(facts__state=FactState.REGRESSED))
        ).filter(n_regressed__gt=0),
        "chosen_line": line,
        "review_form": ReviewForm(),
        "section": "reviews",
    }
    return render(request, "facts/queue.html", context)

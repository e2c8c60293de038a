"""Pages of the release pipeline: version, batch and probe pages, and the operator actions.

Every operator action is a two-step page: GET shows what will happen and asks for a reason,
POST does it through apps.releases.actions (refusals come back on the same page).
"""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.roles import Role
from apps.accounts.ui import any_role_required, role_required
from apps.core.errors import TransitionError
from apps.facts.models import FactEdit, FactState
from apps.modellines.models import ModelLine
from apps.outbox.queries import BROKER_UNREACHABLE, waiting_for_broker
from apps.releases import actions
from apps.releases.links import mlflow_page_url, mlflow_run_page_url
from apps.releases.models import Batch, ModelVersion, Probe, ProbeState, VersionState
from apps.releases.progress import batch_progress
from apps.releases.queries import production_version
from apps.releases.verdicts import override_warning, verdict

EXPLAINED_VERSION_STATES = (VersionState.HELD, VersionState.FAILED, VersionState.ROLLED_BACK, VersionState.CANDIDATE)

VERBS = {
    "promote": ("Promote", "Production will point at this version. Facts it holds become applied."),
    "hold": ("Hold", "This candidate (and any candidate built on it) will not be promoted; its facts are held."),
    "rollback": (
        "Roll back to",
        "Production will point back at this version exactly. Facts applied after it become rolled back; "
        "each one's page then offers its curator to retry it in the next batch, edit and resubmit it, or withdraw it.",
    ),
}


def _common_reason(facts: list[FactEdit]) -> str:
    """The state reason every fact of a table shares (a held version's gate reason), said once above it
    instead of in each of its rows; empty when they differ or there is one row."""
    reasons = {fact.state_reason for fact in facts}
    return reasons.pop() if len(facts) > 1 and len(reasons) == 1 else ""


def _error_text(error: Exception) -> str:
    if isinstance(error, TransitionError):
        return error.reason
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return "; ".join(f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def _status(error: Exception) -> int:
    return 409 if isinstance(error, TransitionError) else 403 if isinstance(error, PermissionDenied) else 400


def _confirm_page(request: HttpRequest, context: dict, act: Callable[[str], tuple[str, str]]) -> HttpResponse:
    """An operator action in two steps: GET shows what will happen and asks for a reason; POST runs
    `act(reason)`, which returns (what to tell the operator, where to go next). A refusal comes back
    on the same page with its reason and status."""
    if request.method != "POST":
        return render(request, "releases/confirm.html", context)
    reason = request.POST.get("reason", "")
    try:
        done, url = act(reason)
    except (TransitionError, ValidationError, PermissionDenied) as error:
        context.update(error=_error_text(error), reason=reason)
        return render(request, "releases/confirm.html", context, status=_status(error))
    messages.success(request, done)
    return redirect(url)


@any_role_required
@require_GET
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(ModelVersion.objects.select_related("model_line", "parent", "batch"), pk=pk)
    results = list(version.fact_results.select_related("fact"))
    context = {
        "version": version,
        "verdict": verdict(version),
        "line": version.model_line,
        "fact_results": results,
        "common_reason": _common_reason([r.fact for r in results]),
        "mlflow_url": mlflow_page_url(version),
        "mlflow_run_url": mlflow_run_page_url(version),
        # Whose reason the page's first line gives: a promoted version's reason is the override alert's.
        "explained_states": EXPLAINED_VERSION_STATES,
        "promotions": version.promotions.select_related("actor", "previous"),
        "probes": version.probes.all()[:10],
        "production": production_version(version.model_line),
        "section": "modellines",
    }
    return render(request, "releases/version_detail.html", context)


@any_role_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(Batch.objects.select_related("model_line"), pk=pk)
    version = ModelVersion.objects.filter(batch=batch).first()
    facts = FactEdit.objects.in_bulk(batch.fact_ids)
    in_version = {r.fact_id: r.results for r in version.fact_results.all()} if version else {}
    rows = [{"fact": facts[i], "results": in_version.get(i, facts[i].results)} for i in batch.fact_ids if i in facts]
    context = {
        "batch": batch,
        "version": version,
        "rows": rows,
        "common_reason": _common_reason([row["fact"] for row in rows]),
        "progress": batch_progress(batch),
        "line": batch.model_line,
        "section": "modellines",
    }
    return render(request, "releases/batch_detail.html", context)


@role_required(Role.OPERATOR)
@require_http_methods(["GET", "POST"])
def version_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    if verb not in VERBS:
        return HttpResponseNotAllowed(list(VERBS))
    version = get_object_or_404(ModelVersion.objects.select_related("model_line"), pk=pk)
    title, explanation = VERBS[verb]
    context = {
        "version": version,
        "line": version.model_line,
        "verb": verb,
        "title": f"{title} {version.label}",
        "explanation": explanation,
        # Promoting by hand what missed a gate overrides it: the operator reads which before deciding.
        "warning": override_warning(version) if verb == "promote" else "",
        "production": production_version(version.model_line),
        "section": "modellines",
    }

    def decide(reason: str) -> tuple[str, str]:
        getattr(actions, verb)(request.user, version, reason)
        return f"{context['title']}: done.", reverse("release_version", args=[version.pk])

    return _confirm_page(request, context, decide)


@role_required(Role.OPERATOR)
@require_http_methods(["GET", "POST"])
def release_now(request: HttpRequest, name: str) -> HttpResponse:
    line = get_object_or_404(ModelLine, name=name)
    waiting = line.facts.filter(state=FactState.APPROVED).count()
    context = {
        "line": line,
        "verb": "release-now",
        "title": f"Release {line.name} now",
        "explanation": f"{min(waiting, line.batch_size)} of the {waiting} approved facts will be cut into a batch "
        "and applied by a GPU worker without waiting for the batch size or the maximum wait.",
        "needs_reason": False,
        "section": "modellines",
    }

    def release(reason: str) -> tuple[str, str]:
        batch = actions.release_now(request.user, line)
        done = f"Batch {batch.pk} cut with {len(batch.fact_ids)} facts; a worker applies it."
        if waiting_for_broker(f"batch:{batch.pk}") is not None:
            done = f"Batch {batch.pk} cut with {len(batch.fact_ids)} facts: {BROKER_UNREACHABLE}."
        return done, reverse("release_batch", args=[batch.pk])

    return _confirm_page(request, context, release)


@role_required(Role.OPERATOR)
@require_http_methods(["GET", "POST"])
def revert_fact(request: HttpRequest, pk: int) -> HttpResponse:
    fact = get_object_or_404(FactEdit.objects.select_related("model_line"), pk=pk)
    context = {
        "fact": fact,
        "line": fact.model_line,
        "verb": "revert",
        "title": f"Revert fact #{fact.pk}",
        "explanation": "A new version is built by replaying the later batches without this fact, from the version "
        "before it. Nothing is erased; the new version is promoted if it meets every gate.",
        "section": "modellines",
    }

    def revert(reason: str) -> tuple[str, str]:
        batch = actions.revert_fact(request.user, fact, reason)
        done = f"Revert batch {batch.pk} queued; a worker builds the new version."
        return done, reverse("release_batch", args=[batch.pk])

    return _confirm_page(request, context, revert)


@any_role_required
@require_http_methods(["POST"])
def probe_create(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(ModelVersion, pk=pk)
    try:
        probe = actions.request_probe(request.user, version, request.POST.get("prompt", ""))
    except (TransitionError, ValidationError, PermissionDenied) as error:
        messages.error(request, f"Probe not sent: {_error_text(error)}")
        return redirect("release_version", pk=version.pk)
    return redirect("release_probe", pk=probe.pk)


@any_role_required
@require_http_methods(["POST"])
def line_probe_create(request: HttpRequest, name: str) -> HttpResponse:
    """Probe a line's production; on a line with no version yet, v0 is recorded first."""
    line = get_object_or_404(ModelLine, name=name)
    try:
        probe = actions.request_line_probe(request.user, line, request.POST.get("prompt", ""))
    except (TransitionError, ValidationError, PermissionDenied) as error:
        messages.error(request, f"Probe not sent: {_error_text(error)}")
        return redirect("modelline_detail", name=line.name)
    if probe is None:
        messages.info(
            request,
            "Probe sent. This line has no version yet: a model worker records v0 (the base model) "
            "first, then answers; the answer appears under “Probe production” on this page.",
        )
        return redirect("modelline_detail", name=line.name)
    return redirect("release_probe", pk=probe.pk)


@any_role_required
@require_GET
def probe_detail(request: HttpRequest, pk: int) -> HttpResponse:
    probe = get_object_or_404(Probe.objects.select_related("version", "model_line"), pk=pk)
    context = {
        "probe": probe,
        "line": probe.model_line,
        "pending": probe.state == ProbeState.PENDING,
        "version_url": reverse("release_version", args=[probe.version_id]),
        "section": "modellines",
    }
    return render(request, "releases/probe_detail.html", context)

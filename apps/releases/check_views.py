"""Pages of full checks: ask one for a line, read its report, export it (CSV or JSON)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.ui import any_role_required
from apps.core.errors import TransitionError
from apps.modellines.models import ModelLine
from apps.releases import actions
from apps.releases.checkreport import export_response, report_summary
from apps.releases.models import FactCheck


@any_role_required
@require_POST
def line_check_create(request: HttpRequest, name: str) -> HttpResponse:
    """An operator or an auditor asks production every applied fact of the line; refusals come back as messages."""
    line = get_object_or_404(ModelLine, name=name)
    try:
        check = actions.request_full_check(request.user, line)
    except (TransitionError, PermissionDenied) as error:
        messages.error(request, error.reason if isinstance(error, TransitionError) else str(error))
        return redirect("modelline_detail", name=line.name)
    messages.success(request, f"Full check #{check.pk} asked of {check.version.label}; a model worker answers it.")
    return redirect("release_check", pk=check.pk)


def _check(pk: int) -> FactCheck:
    return get_object_or_404(FactCheck.objects.select_related("model_line", "version", "requested_by"), pk=pk)


@any_role_required
@require_GET
def check_detail(request: HttpRequest, pk: int) -> HttpResponse:
    check = _check(pk)
    context = {"check": check, "summary": report_summary(check), "regressed": check.regressed, "section": "modellines"}
    return render(request, "releases/check_detail.html", context)


@any_role_required
@require_GET
def check_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in ("csv", "json"):
        raise Http404("export as csv or json")
    return export_response(_check(pk), fmt)

"""Operator pages for model lines: list, detail, create, edit. Writes go through apps.modellines.actions."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.roles import Role
from apps.accounts.ui import any_role_required, apply_validation_error, role_required
from apps.audit.models import AuditEvent
from apps.modellines import actions
from apps.modellines.forms import ModelLineForm
from apps.modellines.models import ModelLine

# The release pipeline's version timeline for one line; shown on the detail page once that part provides it.
VERSIONS_TEMPLATE = "releases/_model_line_versions.html"


def _versions_template() -> str | None:
    try:
        get_template(VERSIONS_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return VERSIONS_TEMPLATE


@any_role_required
@require_GET
def modelline_list(request: HttpRequest) -> HttpResponse:
    # The facts' counts come from the facts app's own tag ({% fact_counts %}): model lines sit below facts.
    lines = ModelLine.objects.order_by("name")
    return render(request, "modellines/list.html", {"lines": lines, "section": "modellines"})


@any_role_required
@require_GET
def modelline_detail(request: HttpRequest, name: str) -> HttpResponse:
    line = get_object_or_404(ModelLine, name=name)
    context = {
        "line": line,
        "events": AuditEvent.objects.filter(model_line_id=line.pk).order_by("-id")[:10],
        "versions_template": _versions_template(),
        "section": "modellines",
    }
    return render(request, "modellines/detail.html", context)


def _form_page(request: HttpRequest, form: ModelLineForm, line: ModelLine | None, status: int = 200) -> HttpResponse:
    context = {"form": form, "line": line, "section": "modellines"}
    return render(request, "modellines/form.html", context, status=status)


@role_required(Role.OPERATOR)
@require_http_methods(["GET", "POST"])
def modelline_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, ModelLineForm(), None)
    form = ModelLineForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, None, status=400)
    try:
        line = actions.create_model_line(request.user, **form.cleaned_data)
    except ValidationError as error:
        apply_validation_error(form, error)
        return _form_page(request, form, None, status=400)
    messages.success(request, f"Model line {line.name} was created.")
    return redirect("modelline_detail", name=line.name)


@role_required(Role.OPERATOR)
@require_http_methods(["GET", "POST"])
def modelline_edit(request: HttpRequest, name: str) -> HttpResponse:
    line = get_object_or_404(ModelLine, name=name)
    # The form works on its own copy: the action must see the line as stored to record "before".
    form_copy = ModelLine.objects.get(pk=line.pk)
    if request.method == "GET":
        return _form_page(request, ModelLineForm(instance=form_copy), line)
    form = ModelLineForm(request.POST, instance=form_copy)
    if not form.is_valid():
        return _form_page(request, form, line, status=400)
    changed = {name: form.cleaned_data[name] for name in form.changed_data}
    if not changed:
        messages.info(request, "Nothing changed.")
        return redirect("modelline_detail", name=line.name)
    try:
        line = actions.update_model_line(request.user, line, **changed)
    except ValidationError as error:
        apply_validation_error(form, error)
        return _form_page(request, form, line, status=400)
    messages.success(request, f"Model line {line.name} was updated ({', '.join(sorted(changed))}).")
    return redirect("modelline_detail", name=line.name)

"""The auditors' page: the audit trail with filters, and CSV / JSON exports of what the filters select.

Filtering and export are the same code as the API's (apps.audit.filters, apps.audit.export).
"""

import json

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.roles import Role
from apps.accounts.ui import role_required
from apps.audit.export import export_response
from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditEvent
from apps.audit.report import verify_trail

PAGE_SIZE = 50
CHANGE_PREVIEW = 160
LABELS = {
    "model_line": "Model line",
    "fact": "Fact id",
    "actor": "Actor",
    "action": "Action",
    "since": "From date",
    "until": "To date",
}


def _filterset(request: HttpRequest) -> AuditEventFilter:
    filterset = AuditEventFilter(request.GET, queryset=AuditEvent.objects.all())
    fields = filterset.form.fields
    for name, label in LABELS.items():
        fields[name].label = label
    fields["model_line"].widget = forms.Select(choices=[("", "All model lines"), *_line_choices()])
    fields["action"].widget = forms.TextInput(attrs={"list": "audit-actions", "placeholder": "e.g. fact.approved"})
    fields["actor"].widget = forms.TextInput(attrs={"placeholder": "username or automation"})
    for field in fields.values():
        field.help_text = ""  # one hint under the filters instead of uneven help under each box
    return filterset


def _line_choices() -> list[tuple[int, str]]:
    """Every model line by the name the trail last recorded for it (its creation, or a rename), by name.

    Read from the trail itself: model lines sit above the audit app, which every app writes to and which
    imports none of them."""
    names: dict[int, str] = {}
    named = AuditEvent.objects.filter(object_type="modelline", after__has_key="name").order_by("id")
    for object_id, name in named.values_list("object_id", "after__name"):
        names[int(object_id)] = name
    return sorted(names.items(), key=lambda choice: choice[1])


def _change(event: AuditEvent) -> dict:
    """What the Change column shows: a state move as badges, anything else as compact JSON."""
    before = (event.before or {}).get("state") if isinstance(event.before, dict) else None
    after = (event.after or {}).get("state") if isinstance(event.after, dict) else None
    payload = event.after if event.after is not None else event.before
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str) if payload is not None else ""
    if len(text) > CHANGE_PREVIEW:
        text = text[: CHANGE_PREVIEW - 1] + "…"
    return {"moved": bool(after) and before != after, "before": before, "after": after, "text": text}


@role_required(Role.AUDITOR)
@require_GET
def audit_events(request: HttpRequest) -> HttpResponse:
    filterset = _filterset(request)
    valid = filterset.is_valid()
    events = filterset.qs.order_by("-id") if valid else AuditEvent.objects.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "form": filterset.form,
        "page": page,
        "rows": [(event, _change(event)) for event in page],
        "query": query.urlencode(),
        "actions": AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct(),
        "recipe": _recipe(),
        "section": "audit",
    }
    return render(request, "audit/events.html", context, status=200 if valid else 400)


def _recipe() -> dict:
    """What the offline recipe names: where this installation keeps its checkpoints and public key."""
    return {
        "checkpoint_dir": str(settings.AMEND_AUDIT_CHECKPOINT_DIR),
        "public_key_set": bool(settings.AMEND_AUDIT_PUBLIC_KEY or settings.AMEND_AUDIT_SIGNING_KEY),
    }


@role_required(Role.AUDITOR)
@require_GET
def audit_verify(request: HttpRequest) -> HttpResponse:
    """The "Verify the chain" button: the same check as `manage.py verify_audit` and /api/audit/events/verify/."""
    report = verify_trail()
    context = {"report": report, "recipe": _recipe(), "section": "audit"}
    return render(request, "audit/verify.html", context)


@role_required(Role.AUDITOR)
@require_GET
def audit_export(request: HttpRequest, fmt: str) -> HttpResponse:
    filterset = _filterset(request)
    if not filterset.is_valid():
        context = {
            "filterset": filterset,
            "form": filterset.form,
            "page": None,
            "query": "",
            "actions": [],
            "section": "audit",
        }
        return render(request, "audit/events.html", context, status=400)
    return export_response(filterset.qs, fmt)

"""Creating and changing model lines: operators only, each change audited with before and after."""

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.roles import Role, require_role
from apps.audit.record import record_event
from apps.core.text import clean_locality_probes, clean_text
from apps.modellines.models import EDITABLE_FIELDS, ModelLine
from apps.modellines.structure import check_line_model


def _plain_json(field: str, value: Any, depth: int = 0) -> None:
    """Settings are stored as JSON: plain values only, no control characters (PostgreSQL refuses NUL)."""
    if depth > 8:
        raise ValidationError({field: "is nested too deeply"})
    if isinstance(value, dict):
        for key, item in value.items():
            _plain_json(field, key, depth + 1)
            _plain_json(field, item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _plain_json(field, item, depth + 1)
    elif isinstance(value, str):
        clean_text(field, value, max_length=10_000, required=False)
    elif value is not None and not isinstance(value, bool | int | float):
        raise ValidationError({field: f"holds a value that is not JSON ({type(value).__name__})"})


# Settings that decide what the worker loads and edits; the bundled model with its defaults needs no check.
_MODEL_FIELDS = {"base_model", "edited_modules", "editor_settings"}


def _apply(line: ModelLine, fields: dict[str, Any]) -> None:
    """Set and validate the fields; ValidationError by field, nothing saved (the callers save after)."""
    unknown = set(fields).difference(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "is not a setting of a model line" for name in sorted(unknown)})
    for name in ("description", "base_model"):
        if name in fields:
            fields[name] = clean_text(
                name, fields[name], max_length=5000, required=False, multiline=name == "description"
            )
    if "locality_probes" in fields:
        fields["locality_probes"] = clean_locality_probes(fields["locality_probes"])
    for name in ("edited_modules", "editor_settings"):
        if name in fields:
            _plain_json(name, fields[name])
    for name in ("max_wait", "full_check_interval"):
        if isinstance(fields.get(name), int | float):
            fields[name] = timedelta(seconds=fields[name])
    for name, value in fields.items():
        setattr(line, name, value)
    # full_clean: validators (gates in [0, 1], approvals 1..10, slug name, unique name) hold for every caller.
    line.full_clean(exclude=["created_by"])
    if _MODEL_FIELDS & set(fields) and (line.base_model or line.edited_modules or line.editor_settings):
        # What a worker would refuse of the model, refused now by field (config only, no weights loaded).
        check_line_model(line.base_model, line.edited_modules, line.editor_settings)


@transaction.atomic(durable=True)
def create_model_line(actor: AbstractBaseUser | None, **fields: Any) -> ModelLine:
    """An operator creates a line. Refused: PermissionDenied for other roles; ValidationError by field for
    bad settings, among them a base model that is not a causal LM (base_model), modules that do not
    exist or are not Linear (edited_modules), settings the editor refuses (editor_settings)."""
    require_role(actor, Role.OPERATOR, "create or change model lines")
    line = ModelLine(created_by=actor)
    _apply(line, fields)
    line.save()
    record_event(actor, "modelline.created", line, after=line.audit_snapshot(), model_line_id=line.pk)
    return line


@transaction.atomic(durable=True)
def update_model_line(actor: AbstractBaseUser | None, line: ModelLine, **fields: Any) -> ModelLine:
    """An operator changes a line; refused as create_model_line refuses, and then nothing changes."""
    require_role(actor, Role.OPERATOR, "create or change model lines")
    current = ModelLine.objects.select_for_update().get(pk=line.pk)
    before = current.audit_snapshot()
    _apply(current, fields)
    after = current.audit_snapshot()
    if after == before:
        return current
    current.save()
    changed = sorted(name for name in after if after[name] != before.get(name))
    record_event(
        actor,
        "modelline.updated",
        current,
        before={name: before.get(name) for name in changed},
        after={name: after[name] for name in changed},
        model_line_id=current.pk,
    )
    if line is not current:
        line.refresh_from_db()
    return current

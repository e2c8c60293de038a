"""A curator's bulk write: import a ZsRE JSONL or CSV file, one transaction per row, one summary event."""

import hashlib
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from amend.errors import TransitionError
from apps.accounts.roles import Role
from apps.audit.record import record_event
from apps.facts import permissions
from apps.facts.actions.content import insert_fact
from apps.facts.conflicts import normalize_prompt, normalize_target
from apps.facts.imports import ImportReport, RejectedRow, describe, iter_rows, read_text
from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine

User = AbstractBaseUser


def import_key(model_line: ModelLine, prompt: str, target: str) -> str:
    """What makes a row the same row on a second import: the line, the prompt key and the target key."""
    key = f"{model_line.pk}\0{normalize_prompt(prompt)}\0{normalize_target(target)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def import_facts(
    actor: User,
    model_line: ModelLine,
    fileobj: Any,
    fmt: str,
    *,
    rationale: str = "",
    source: str = "",
    submit: bool = True,
) -> ImportReport:
    """Bulk import (ZsRE JSONL or CSV). Each row is validated and saved in its own transaction; a row
    imported before on this line is skipped, so importing a file twice creates nothing new.

    Rows without their own rationale/source get `rationale` (default: "Bulk import of NAME") and
    `source` (default: "NAME, line N"). File-level problems raise ValidationError keyed "file"/"format".
    """
    permissions.require_role(actor, Role.CURATOR, "import facts")
    name = Path(getattr(fileobj, "name", "") or "upload").name
    text = read_text(fileobj)
    report = ImportReport()
    for line, fields, reason in iter_rows(text, fmt):
        if fields is None:
            report.rejected.append(RejectedRow(line, reason))
            continue
        fields.setdefault("rationale", rationale or f"Bulk import of {name}")
        fields.setdefault("source", source or f"{name}, line {line}")
        try:
            key = import_key(model_line, str(fields["prompt"] or ""), str(fields["target"] or ""))
            if FactEdit.objects.filter(model_line=model_line, import_key=key).exists():
                report.skipped.append(line)
                continue
            with transaction.atomic():
                created = insert_fact(actor, model_line, fields, submit=submit, import_key=key, action="fact.imported")
        except ValidationError as error:
            report.rejected.append(RejectedRow(line, describe(error)))
        except TransitionError as error:
            report.rejected.append(RejectedRow(line, error.reason))
        except IntegrityError:
            # The same row went in through a concurrent import of the same file.
            report.skipped.append(line)
        else:
            report.created.append(created.fact.pk)
    with transaction.atomic():
        record_event(
            actor,
            "facts.import",
            f"modelline:{model_line.pk}",
            after={"file": name, "format": fmt, **report.to_dict()},
            model_line_id=model_line.pk,
        )
    return report

"""What every release write shares: the operator's reason, the line lock, audit snapshots."""

import hashlib
import json
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from apps.accounts.roles import Role, require_role
from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine
from apps.releases.models import ModelVersion

User = AbstractBaseUser


def operator_reason(actor: User | None, what: str, reason: str, why: str) -> str:
    """An operator's decision must say why: checks the role and returns the trimmed reason."""
    require_role(actor, Role.OPERATOR, what)
    if not reason.strip():
        raise ValidationError({"reason": f"say why {why}"})
    return reason.strip()


def person(actor: User | None) -> User | None:
    """Who to store as having done it: the signed-in user, or None for automation."""
    return actor if actor is not None and actor.is_authenticated else None


def locked_line(model_line: ModelLine | int) -> ModelLine:
    """The line's row, locked: every change to a line's versions is serialised on it."""
    pk = model_line.pk if isinstance(model_line, ModelLine) else model_line
    return ModelLine.objects.select_for_update().get(pk=pk)


def facts_content_hash(facts: Iterable[FactEdit]) -> str:
    """sha256 over what the editor will see of each fact, in batch order."""
    canonical = [
        {
            "id": fact.pk,
            "revision": fact.revision,
            "prompt": fact.prompt,
            "target": fact.target,
            "paraphrases": fact.paraphrases,
            "locality_probes": fact.locality_probes,
        }
        for fact in facts
    ]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def version_snapshot(version: ModelVersion) -> dict:
    """What an audit event records of a version."""
    return {
        "number": version.number,
        "state": version.state,
        "content_hash": version.content_hash,
        "parent": version.parent.number if version.parent_id else None,
        "batch": version.batch_id,
        "metrics": version.metrics,
        "mlflow_run_id": version.mlflow_run_id,
        "mlflow_model_version": version.mlflow_model_version,
    }

"""A curator's writes: create, edit, submit, withdraw a fact, and mark it as superseding another."""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.roles import Role, require_role
from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts import permissions
from apps.facts.actions.state import in_step, locked_fact, move_fact
from apps.facts.conflicts import (
    duplicate_and_conflicts,
    find_conflicts,
    find_duplicate,
    normalize_prompt,
    normalize_target,
)
from apps.facts.errors import DuplicateFactError
from apps.facts.models import FACT_ONCE_PER_LINE, FactEdit, FactState
from apps.facts.states import EDITABLE_STATES, SUPERSEDABLE_STATES, can_transition, transition_refusal
from apps.facts.validation import MAX_RATIONALE, check_wordings, clean_fact_fields, clean_text
from apps.modellines.editing import target_refusal
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import enqueue

User = AbstractBaseUser



@dataclass(frozen=True)
class CreatedFact:
    fact: FactEdit
    # The live facts on the line that answer the same prompt differently, found while checking for a
    # duplicate: the API's answer shows them without asking the database again.
    conflicts: list[FactEdit]


def _refuse_duplicate(duplicate: FactEdit | None) -> None:
    if duplicate is not None:
        raise DuplicateFactError(
            f"fact #{duplicate.pk} on this model line already has this prompt and target ({duplicate.state})"
        )


@contextmanager
def _refused_if_identical() -> Iterator[None]:
    """The database's side of the duplicate rule: an identical fact committed between the check and this write
    (a concurrent submission) makes the write fail on `fact_once_per_line`; it is refused like any duplicate.
    The transaction is spoilt by then, so the refusal cannot name the other fact."""
    try:
        yield
    except IntegrityError as error:
        if FACT_ONCE_PER_LINE not in str(error):
            raise
        raise DuplicateFactError(
            "a fact on this model line already has this prompt and target (submitted at the same moment)"
        ) from error


def _resolve_supersedes(model_line_id: int, prompt: str, supersedes: FactEdit | int | None) -> FactEdit | None:
    if supersedes is None:
        return None
    other = supersedes
    if not isinstance(other, FactEdit):
        other = FactEdit.objects.filter(pk=supersedes).first()
        if other is None:
            raise ValidationError({"supersedes": f"fact #{supersedes} does not exist"})
    if other.model_line_id != model_line_id:
        raise ValidationError({"supersedes": "the superseded fact must be on the same model line"})
    if other.normalized_prompt != normalize_prompt(prompt):
        raise ValidationError({"supersedes": "a fact can only supersede one with the same prompt"})
    return other


def _check_content(model_line: ModelLine, prompt: str, target: str, subject: str, paraphrases: list[str]) -> None:
    """Bad input refused at submission (400 by field), never a failed batch: the wordings, and a target the
    line's tokenizer cannot encode."""
    check_wordings(prompt, subject, paraphrases)
    refusal = target_refusal(model_line.base_model, target)
    if refusal:
        raise ValidationError({"target": refusal})


def conflict_note(conflicts: list[FactEdit]) -> dict:
    return {"conflicts": [other.pk for other in conflicts]} if conflicts else {}


def insert_fact(
    actor: User,
    model_line: ModelLine,
    fields: dict[str, Any],
    *,
    submit: bool,
    supersedes: FactEdit | int | None = None,
    import_key: str = "",
    action: str = "",
) -> CreatedFact:
    """Validate and save a new fact with its one audit event; the caller holds the transaction."""
    cleaned = clean_fact_fields(fields)
    _check_content(
        model_line, cleaned["prompt"], cleaned["target"], cleaned.get("subject", ""), cleaned.get("paraphrases", [])
    )
    duplicate, conflicts = duplicate_and_conflicts(model_line.pk, cleaned["prompt"], cleaned["target"])
    _refuse_duplicate(duplicate)
    other = _resolve_supersedes(model_line.pk, cleaned["prompt"], supersedes)
    with _refused_if_identical():
        fact = FactEdit.objects.create(
            model_line=model_line,
            submitter=actor,
            normalized_prompt=normalize_prompt(cleaned["prompt"]),
            normalized_target=normalize_target(cleaned["target"]),
            supersedes=other,
            state=FactState.SUBMITTED if submit else FactState.DRAFT,
            submitted_at=timezone.now() if submit else None,
            import_key=import_key,
            **cleaned,
        )
    # One event for create(+submit): the submission hot path writes a single chain link. A draft
    # collides with nothing yet, so its event names no conflict.
    record_event(
        actor,
        action or ("fact.submitted" if submit else "fact.created"),
        fact,
        before=None,
        after={**fact.audit_snapshot(), **(conflict_note(conflicts) if submit else {})},
        model_line_id=model_line.pk,
        fact_id=fact.pk,
    )
    return CreatedFact(fact, conflicts)


@transaction.atomic(durable=True)
def create_fact_with_conflicts(
    actor: User,
    model_line: ModelLine,
    *,
    prompt: str,
    target: str,
    paraphrases: Iterable[str] = (),
    locality_probes: Iterable[Mapping | str] = (),
    subject: str = "",
    rationale: str,
    source: str,
    submit: bool = True,
    supersedes: FactEdit | int | None = None,
) -> CreatedFact:
    """A curator proposes a fact; submitted at once unless submit=False (then it stays a draft).

    Returns the fact with the live facts it conflicts with (the API shows them in its answer).
    """
    require_role(actor, Role.CURATOR, "submit facts")
    fields = {
        "prompt": prompt,
        "target": target,
        "paraphrases": list(paraphrases) if not isinstance(paraphrases, str) else paraphrases,
        "locality_probes": list(locality_probes) if not isinstance(locality_probes, str) else locality_probes,
        "subject": subject,
        "rationale": rationale,
        "source": source,
    }
    created = insert_fact(actor, model_line, fields, submit=submit, supersedes=supersedes)
    if submit:
        _ask_production(actor, created.fact)
    return created


def _ask_production(actor: User, fact: FactEdit) -> None:
    """Reviewers see what production answers today: the submission asks it, through the outbox (the
    probes are the release app's, above this one; workers.probes writes them once this commits)."""
    enqueue(tasks.ASK_PRODUCTION, fact.pk, actor.pk)


def create_fact(actor: User, model_line: ModelLine, **fields: Any) -> FactEdit:
    """create_fact_with_conflicts for callers that need only the fact (pages, importer, fixtures)."""
    return create_fact_with_conflicts(actor, model_line, **fields).fact


@transaction.atomic(durable=True)
def update_fact(actor: User, fact: FactEdit, **fields: Any) -> FactEdit:
    """The submitter edits a draft or a fact sent back for changes. A content change bumps the revision,
    so earlier approvals no longer count."""
    return _update_fact(actor, fact, **fields)


def _update_fact(actor: User, fact: FactEdit, **fields: Any) -> FactEdit:
    current = locked_fact(fact)
    permissions.require_curator_of(actor, current, "edit this fact")
    if current.state not in EDITABLE_STATES:
        raise TransitionError(f"a {current.state} fact cannot be edited (only draft or changes_requested)")
    supersedes = fields.pop("supersedes", current.supersedes_id)
    cleaned = clean_fact_fields(fields, partial=True)
    before = current.audit_snapshot()
    changed = {name: value for name, value in cleaned.items() if getattr(current, name) != value}
    if "prompt" in changed or "target" in changed:
        prompt, target = cleaned.get("prompt", current.prompt), cleaned.get("target", current.target)
        _refuse_duplicate(find_duplicate(current.model_line_id, prompt, target, exclude=current))
    for name, value in changed.items():
        setattr(current, name, value)
    if changed.keys() & {"prompt", "target", "subject", "paraphrases"}:
        _check_content(current.model_line, current.prompt, current.target, current.subject, current.paraphrases)
    other = _resolve_supersedes(current.model_line_id, current.prompt, supersedes)
    if other is not None and other.pk == current.pk:
        raise ValidationError({"supersedes": "a fact cannot supersede itself"})
    if (other.pk if other else None) != current.supersedes_id:
        current.supersedes = other
        changed["supersedes"] = other.pk if other else None
    if not changed:
        return in_step(fact, current)
    current.normalized_prompt = normalize_prompt(current.prompt)
    current.normalized_target = normalize_target(current.target)
    current.revision += 1
    with _refused_if_identical():
        current.save()
    record_event(
        actor,
        "fact.updated",
        current,
        before=before,
        after=current.audit_snapshot(),
        model_line_id=current.model_line_id,
        fact_id=current.pk,
    )
    return in_step(fact, current)


@transaction.atomic(durable=True)
def submit_fact(actor: User, fact: FactEdit) -> FactEdit:
    """Send a draft (or a fact with requested changes) to the review queue; conflicts are flagged in the event."""
    return _submit_fact(actor, fact)


def _submit_fact(actor: User, fact: FactEdit) -> FactEdit:
    current = locked_fact(fact)
    permissions.require_curator_of(actor, current, "submit this fact")
    if not can_transition(current.state, FactState.SUBMITTED):
        raise TransitionError(transition_refusal(current.state, FactState.SUBMITTED))
    _refuse_duplicate(find_duplicate(current.model_line_id, current.prompt, current.target, exclude=current))
    conflicts = find_conflicts(current.model_line_id, current.prompt, current.target, exclude=current)
    move_fact(actor, current, FactState.SUBMITTED, action="fact.submitted")
    _ask_production(actor, current)
    if conflicts:
        # Written as its own event so the timeline shows reviewers what the submission collided with.
        record_event(
            actor,
            "fact.conflict_flagged",
            current,
            after=conflict_note(conflicts),
            model_line_id=current.model_line_id,
            fact_id=current.pk,
        )
    return in_step(fact, current)


@transaction.atomic(durable=True)
def update_and_submit_fact(actor: User, fact: FactEdit, **fields: Any) -> FactEdit:
    """Edit and resubmit together: a refused submission leaves the fact as it was before the edit."""
    _update_fact(actor, fact, **fields)
    return _submit_fact(actor, fact)


@transaction.atomic(durable=True)
def withdraw_fact(actor: User, fact: FactEdit, reason: str = "") -> FactEdit:
    """The submitter (or an operator) takes a fact back before it reaches the model."""
    current = locked_fact(fact)
    if not permissions.may_withdraw(actor, current):
        raise PermissionDenied("only the curator who submitted the fact may withdraw this fact")
    reason = clean_text("reason", reason, max_length=MAX_RATIONALE, required=False, multiline=True)
    move_fact(actor, current, FactState.WITHDRAWN, action="fact.withdrawn", reason=reason)
    return in_step(fact, current)


@transaction.atomic(durable=True)
def mark_superseding(actor: User, fact: FactEdit, other: FactEdit | int) -> FactEdit:
    """Declare that `fact` replaces `other` (same prompt, same line): the conflict no longer blocks approval."""
    current = locked_fact(fact)
    if not permissions.may_mark_superseding(actor, current):
        raise PermissionDenied("only the curator who submitted the fact may mark this fact as superseding another")
    if current.state not in SUPERSEDABLE_STATES:
        raise TransitionError(f"a {current.state} fact can no longer be marked as superseding another")
    target = _resolve_supersedes(current.model_line_id, current.prompt, other)
    if target.pk == current.pk:
        raise ValidationError({"supersedes": "a fact cannot supersede itself"})
    before = {"supersedes_id": current.supersedes_id}
    current.supersedes = target
    current.save(update_fields=["supersedes", "updated_at"])
    record_event(
        actor,
        "fact.marked_superseding",
        current,
        before=before,
        after={"supersedes_id": target.pk},
        model_line_id=current.model_line_id,
        fact_id=current.pk,
    )
    return in_step(fact, current)

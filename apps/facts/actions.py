"""Every write to facts and reviews: one function each, one transaction, one or more audit events.

The API, the web UI, the importer and the release pipeline all change facts through these
functions only, so the rules (who may do what, in which state) live in one place. Refusals:
- PermissionDenied: the actor's role does not allow it (HTTP 403);
- ValidationError keyed by field: bad input (HTTP 400);
- TransitionError (and DuplicateFactError, ConflictError): the workflow forbids it now (HTTP 409).
"""

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit.record import record_event
from apps.facts.conflicts import (
    blocking_conflicts,
    duplicate_and_conflicts,
    find_conflicts,
    find_duplicate,
    normalize_prompt,
    normalize_target,
)
from apps.facts.errors import ConflictError, DuplicateFactError, TransitionError
from apps.facts.imports import ImportReport, RejectedRow, describe, iter_rows, read_text
from apps.facts.models import FactEdit, FactState, Review, ReviewDecision
from apps.facts.states import EDITABLE_STATES, can_transition, transition_refusal
from apps.facts.validation import MAX_RATIONALE, clean_fact_fields, clean_text
from apps.modellines.models import ModelLine

__all__ = [
    "ImportReport",
    "create_fact",
    "import_facts",
    "import_key",
    "mark_superseding",
    "review_fact",
    "submit_fact",
    "transition_facts",
    "update_fact",
    "withdraw_fact",
]

User = AbstractBaseUser


def _require(actor: User | None, role: Role, what: str) -> None:
    if not has_role(actor, role):
        raise PermissionDenied(f"only a {role.value} may {what}")


def _require_owner(actor: User | None, fact: FactEdit, what: str) -> None:
    if actor is None or not (actor.is_superuser or fact.submitter_id == actor.pk):
        raise PermissionDenied(f"only the curator who submitted the fact may {what}")
    _require(actor, Role.CURATOR, what)


def _locked(fact: FactEdit) -> FactEdit:
    """The fact's current row, locked until the transaction ends (two reviewers at once see one another)."""
    return FactEdit.objects.select_for_update().get(pk=fact.pk)


def _refresh_caller_copy(caller: FactEdit, current: FactEdit) -> FactEdit:
    """Keep the caller's object in step with the database, so they can keep using it."""
    if caller is not current:
        caller.refresh_from_db()
    caller.__dict__.pop("open_conflicts", None)  # whatever was cached about conflicts may have changed
    return caller


def _move(actor: User | None, fact: FactEdit, to_state: str, *, action: str, reason: str = "", **extra: Any) -> None:
    """Change the state of a locked fact and write the event, or raise TransitionError."""
    if not can_transition(fact.state, to_state):
        raise TransitionError(transition_refusal(fact.state, to_state))
    before = {"state": fact.state, "state_reason": fact.state_reason}
    fact.state = to_state
    fact.state_reason = reason
    now = timezone.now()
    update_fields = ["state", "state_reason", "updated_at"]
    if to_state == FactState.SUBMITTED:
        fact.submitted_at = now
        update_fields.append("submitted_at")
    if to_state == FactState.APPROVED:
        fact.approved_at = now
        update_fields.append("approved_at")
    for name, value in extra.items():
        setattr(fact, name, value)
        update_fields.append(name)
    fact.save(update_fields=update_fields)
    after = {"state": fact.state, "state_reason": fact.state_reason, **extra}
    record_event(actor, action, fact, before=before, after=after, model_line_id=fact.model_line_id, fact_id=fact.pk)


def _refuse_duplicate(model_line_id: int, prompt: str, target: str, exclude: FactEdit | None = None) -> None:
    _raise_if_duplicate(find_duplicate(model_line_id, prompt, target, exclude=exclude))


def _raise_if_duplicate(duplicate: FactEdit | None) -> None:
    if duplicate is not None:
        raise DuplicateFactError(
            f"fact #{duplicate.pk} on this model line already has this prompt and target ({duplicate.state})"
        )


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


def _conflict_note(conflicts: list[FactEdit]) -> dict:
    return {"conflicts": [other.pk for other in conflicts]} if conflicts else {}


def _insert_fact(
    actor: User,
    model_line: ModelLine,
    fields: dict[str, Any],
    *,
    submit: bool,
    supersedes: FactEdit | int | None = None,
    import_key: str = "",
    action: str = "",
) -> FactEdit:
    cleaned = clean_fact_fields(fields)
    duplicate, conflicts = duplicate_and_conflicts(model_line.pk, cleaned["prompt"], cleaned["target"])
    _raise_if_duplicate(duplicate)
    other = _resolve_supersedes(model_line.pk, cleaned["prompt"], supersedes)
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
    # Callers (the API's answer) may reuse what was found instead of asking again.
    fact.open_conflicts = conflicts
    if not submit:
        conflicts = []
    # One event for create(+submit): the submission hot path writes a single chain link.
    record_event(
        actor,
        action or ("fact.submitted" if submit else "fact.created"),
        fact,
        before=None,
        after={**fact.audit_snapshot(), **_conflict_note(conflicts)},
        model_line_id=model_line.pk,
        fact_id=fact.pk,
    )
    return fact


@transaction.atomic
def create_fact(
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
) -> FactEdit:
    """A curator proposes a fact; submitted at once unless submit=False (then it stays a draft)."""
    _require(actor, Role.CURATOR, "submit facts")
    fields = {
        "prompt": prompt,
        "target": target,
        "paraphrases": list(paraphrases) if not isinstance(paraphrases, str) else paraphrases,
        "locality_probes": list(locality_probes) if not isinstance(locality_probes, str) else locality_probes,
        "subject": subject,
        "rationale": rationale,
        "source": source,
    }
    return _insert_fact(actor, model_line, fields, submit=submit, supersedes=supersedes)


@transaction.atomic
def update_fact(actor: User, fact: FactEdit, **fields: Any) -> FactEdit:
    """The submitter edits a draft or a fact sent back for changes. A content change bumps the revision,
    so earlier approvals no longer count."""
    current = _locked(fact)
    _require_owner(actor, current, "edit this fact")
    if current.state not in EDITABLE_STATES:
        raise TransitionError(f"a {current.state} fact cannot be edited (only draft or changes_requested)")
    supersedes = fields.pop("supersedes", current.supersedes_id)
    cleaned = clean_fact_fields(fields, partial=True)
    before = current.audit_snapshot()
    changed = {name: value for name, value in cleaned.items() if getattr(current, name) != value}
    if "prompt" in changed or "target" in changed:
        _refuse_duplicate(
            current.model_line_id, cleaned.get("prompt", current.prompt), cleaned.get("target", current.target), current
        )
    for name, value in changed.items():
        setattr(current, name, value)
    other = _resolve_supersedes(current.model_line_id, current.prompt, supersedes)
    if other is not None and other.pk == current.pk:
        raise ValidationError({"supersedes": "a fact cannot supersede itself"})
    if (other.pk if other else None) != current.supersedes_id:
        current.supersedes = other
        changed["supersedes"] = other.pk if other else None
    if not changed:
        return _refresh_caller_copy(fact, current)
    current.normalized_prompt = normalize_prompt(current.prompt)
    current.normalized_target = normalize_target(current.target)
    current.revision += 1
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
    return _refresh_caller_copy(fact, current)


@transaction.atomic
def submit_fact(actor: User, fact: FactEdit) -> FactEdit:
    """Send a draft (or a fact with requested changes) to the review queue; conflicts are flagged in the event."""
    current = _locked(fact)
    _require_owner(actor, current, "submit this fact")
    if not can_transition(current.state, FactState.SUBMITTED):
        raise TransitionError(transition_refusal(current.state, FactState.SUBMITTED))
    _refuse_duplicate(current.model_line_id, current.prompt, current.target, current)
    conflicts = find_conflicts(current.model_line_id, current.prompt, current.target, exclude=current)
    _move(actor, current, FactState.SUBMITTED, action="fact.submitted")
    if conflicts:
        # Written as its own event so the timeline shows reviewers what the submission collided with.
        record_event(
            actor,
            "fact.conflict_flagged",
            current,
            after=_conflict_note(conflicts),
            model_line_id=current.model_line_id,
            fact_id=current.pk,
        )
    return _refresh_caller_copy(fact, current)


@transaction.atomic
def withdraw_fact(actor: User, fact: FactEdit, reason: str = "") -> FactEdit:
    """The submitter (or an operator) takes a fact back before it reaches the model."""
    current = _locked(fact)
    if not has_role(actor, Role.OPERATOR):
        _require_owner(actor, current, "withdraw this fact")
    reason = clean_text("reason", reason, max_length=MAX_RATIONALE, required=False, multiline=True)
    _move(actor, current, FactState.WITHDRAWN, action="fact.withdrawn", reason=reason)
    return _refresh_caller_copy(fact, current)


@transaction.atomic
def review_fact(actor: User, fact: FactEdit, decision: str, comment: str) -> Review:
    """A reviewer approves, rejects or requests changes. Approval needs the line's number of current
    approvals (of this revision), no standing rejection, and no unresolved conflict."""
    _require(actor, Role.REVIEWER, "review facts")
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": f"must be one of {', '.join(ReviewDecision.values)}"})
    comment = clean_text("comment", comment, max_length=MAX_RATIONALE, multiline=True)
    current = _locked(fact)
    if current.submitter_id == actor.pk:
        raise PermissionDenied("nobody reviews their own fact")
    if current.state != FactState.SUBMITTED:
        raise TransitionError(f"only a submitted fact can be reviewed; this one is {current.state}")
    this_revision = current.reviews.filter(fact_revision=current.revision)
    if decision == ReviewDecision.APPROVE:
        if this_revision.filter(reviewer=actor, decision=ReviewDecision.APPROVE).exists():
            raise TransitionError("you already approved this revision of the fact")
        conflicts = blocking_conflicts(current)
        if conflicts:
            ids = ", ".join(f"#{other.pk}" for other in conflicts)
            raise ConflictError(
                f"conflicts with fact {ids} (same prompt, another target): withdraw it or mark this fact "
                "as superseding it first"
            )
    review = Review.objects.create(
        fact=current, reviewer=actor, decision=decision, comment=comment, fact_revision=current.revision
    )
    record_event(
        actor,
        f"review.{decision}",
        review,
        after={"decision": decision, "comment": comment, "fact_revision": current.revision},
        model_line_id=current.model_line_id,
        fact_id=current.pk,
    )
    if decision == ReviewDecision.REJECT:
        _move(actor, current, FactState.REJECTED, action="fact.rejected", reason=comment)
    elif decision == ReviewDecision.REQUEST_CHANGES:
        _move(actor, current, FactState.CHANGES_REQUESTED, action="fact.changes_requested", reason=comment)
    else:
        approvals = this_revision.filter(decision=ReviewDecision.APPROVE).values("reviewer").distinct().count()
        standing_rejection = this_revision.filter(decision=ReviewDecision.REJECT).exists()
        if approvals >= current.model_line.approvals_required and not standing_rejection:
            _move(actor, current, FactState.APPROVED, action="fact.approved", reason=comment)
    _refresh_caller_copy(fact, current)
    return review


@transaction.atomic
def mark_superseding(actor: User, fact: FactEdit, other: FactEdit | int) -> FactEdit:
    """Declare that `fact` replaces `other` (same prompt, same line): the conflict no longer blocks approval."""
    current = _locked(fact)
    if not (has_role(actor, Role.REVIEWER) or has_role(actor, Role.OPERATOR)):
        _require_owner(actor, current, "mark this fact as superseding another")
    if current.state not in {FactState.DRAFT, FactState.SUBMITTED, FactState.CHANGES_REQUESTED}:
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
    return _refresh_caller_copy(fact, current)


@transaction.atomic
def transition_facts(
    actor: User | None,
    facts: Iterable[FactEdit | int],
    to_state: str,
    reason: str = "",
    results: Mapping[int, dict] | None = None,
) -> list[FactEdit]:
    """Move several facts at once (the release pipeline: queued, applied, held, rolled back, reverted).

    All or nothing: if one fact may not move, none moves and TransitionError names it. `actor` None
    is automation; a person must be an operator. `results` maps a fact id to its evaluation results.
    """
    if actor is not None and not has_role(actor, Role.OPERATOR):
        raise PermissionDenied("only an operator or the pipeline may move facts through the release states")
    if to_state not in FactState.values:
        raise ValidationError({"to_state": f"unknown state {to_state!r}"})
    ids = sorted({fact.pk if isinstance(fact, FactEdit) else int(fact) for fact in facts})
    locked = list(FactEdit.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    missing = set(ids) - {fact.pk for fact in locked}
    if missing:
        raise TransitionError(f"no such fact: {', '.join(f'#{pk}' for pk in sorted(missing))}")
    for fact in locked:
        if not can_transition(fact.state, to_state):
            raise TransitionError(f"fact #{fact.pk}: {transition_refusal(fact.state, to_state)}")
    results = results or {}
    for fact in locked:
        extra = {"results": results[fact.pk]} if fact.pk in results else {}
        _move(actor, fact, to_state, action=f"fact.{to_state}", reason=reason, **extra)
    return locked


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
    _require(actor, Role.CURATOR, "import facts")
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
                fact = _insert_fact(actor, model_line, fields, submit=submit, import_key=key, action="fact.imported")
        except ValidationError as error:
            report.rejected.append(RejectedRow(line, describe(error)))
        except TransitionError as error:
            report.rejected.append(RejectedRow(line, error.reason))
        except IntegrityError:
            # The same row went in through a concurrent import of the same file.
            report.skipped.append(line)
        else:
            report.created.append(fact.pk)
    with transaction.atomic():
        record_event(
            actor,
            "facts.import",
            f"modelline:{model_line.pk}",
            after={"file": name, "format": fmt, **report.to_dict()},
            model_line_id=model_line.pk,
        )
    return report

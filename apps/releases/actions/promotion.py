"""Promotion: pointing production at a version (promote, roll back) or stopping a candidate (hold).

Pointing production is one transaction of small steps (`_point_production`): settle the other
versions, mark the new production, move the facts, record the promotion, then sync MLflow after commit.
"""

from django.db import transaction

from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.actions import transition_facts
from apps.facts.models import FactEdit, FactState
from apps.facts.states import KEEPS_REGRESSING
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import enqueue
from apps.releases import gates
from apps.releases.actions.common import User, locked_line, operator_reason, person, version_snapshot
from apps.releases.models import BatchKind, ModelVersion, Promotion, PromotionKind, VersionState
from apps.releases.queries import (
    HEAD_STATES,
    ancestor_ids,
    ancestry,
    applied_fact_ids,
    descendant_ids,
    latest_fact_results,
    production_version,
)


def _reverted_fact_id(version: ModelVersion) -> int | None:
    """The fact a revert version takes out of the lineage; None for any other version."""
    if version.batch_id and version.batch.kind == BatchKind.REVERT:
        return version.batch.fact_ids[0]
    return None


def _follows(version: ModelVersion, current: ModelVersion) -> bool:
    """Whether `version` may replace production automatically: it builds on production, or it is a
    revert version holding exactly production's facts but the reverted one."""
    if current.pk in ancestor_ids(version):
        return True
    reverted = _reverted_fact_id(version)
    if reverted is not None:
        return set(applied_fact_ids(version)) == set(applied_fact_ids(current)) - {reverted}
    return False


# --- the steps of pointing production at a version --------------------------------------------


def _settle_other_versions(line: ModelLine, version: ModelVersion, ancestors: set[int]) -> None:
    """Versions production now builds on are superseded; heads it does not build on are rolled back."""
    others = ModelVersion.objects.filter(model_line=line).exclude(pk=version.pk)
    below = others.filter(pk__in=ancestors, state__in=[*HEAD_STATES, VersionState.HELD, VersionState.ROLLED_BACK])
    below.update(state=VersionState.SUPERSEDED, state_reason=f"{version.label} builds on it")
    aside = others.exclude(pk__in=ancestors).filter(state__in=[*HEAD_STATES, VersionState.SUPERSEDED])
    aside.update(state=VersionState.ROLLED_BACK, state_reason=f"production pointed at {version.label}")


def _mark_production(version: ModelVersion, reason: str) -> None:
    version.state, version.state_reason = VersionState.PRODUCTION, reason
    version.save(update_fields=["state", "state_reason"])


def _bring_in_facts(version: ModelVersion, applied: set[int], lineage_ids: list[int]) -> None:
    """Facts the new production holds become applied, with their results from the newest version that
    evaluated them (held ones pass through queued, as the state machine asks). A fact held because it keeps
    regressing stays held: its curator decides, not the next promotion."""
    now_in = list(
        FactEdit.objects.filter(
            pk__in=applied, state__in=[FactState.QUEUED, FactState.HELD, FactState.ROLLED_BACK]
        ).exclude(state=FactState.HELD, state_reason__startswith=KEEPS_REGRESSING)
    )
    results = latest_fact_results(lineage_ids, [fact.pk for fact in now_in])
    held = [fact for fact in now_in if fact.state == FactState.HELD]
    if held:
        transition_facts(None, held, FactState.QUEUED, reason=f"promoted with {version.label}")
    if now_in:
        transition_facts(None, now_in, FactState.APPLIED, reason=f"in production with {version.label}", results=results)


def _take_out_facts(actor: User | None, line: ModelLine, version: ModelVersion, applied: set[int]) -> None:
    """Applied facts the new production lacks: the reverted one is reverted, the others rolled back."""
    leaving = FactEdit.objects.filter(model_line=line, state__in=[FactState.APPLIED, FactState.REGRESSED]).exclude(
        pk__in=applied
    )
    reverted = _reverted_fact_id(version)
    if reverted is not None:
        transition_facts(
            actor,
            leaving.filter(pk=reverted),
            FactState.REVERTED,
            reason=f"reverted: {version.label} replays the lineage without it",
        )
        leaving = leaving.exclude(pk=reverted)
    if leaving.exists():
        transition_facts(None, leaving, FactState.ROLLED_BACK, reason=f"production rolled back to {version.label}")


def _hold_orphaned_facts(line: ModelLine, version: ModelVersion, applied: set[int]) -> None:
    """Queued facts of versions that just left the lineage were never in production: hold them."""
    dropped = ModelVersion.objects.filter(model_line=line, state=VersionState.ROLLED_BACK)
    orphan_ids = {fact_id for v in dropped for fact_id in v.fact_ids} - applied
    orphans = FactEdit.objects.filter(pk__in=orphan_ids, state=FactState.QUEUED)
    if orphans.exists():
        transition_facts(None, orphans, FactState.HELD, reason=f"production pointed at {version.label} first")


def _record_promotion(
    actor: User | None,
    line: ModelLine,
    version: ModelVersion,
    previous: ModelVersion | None,
    *,
    kind: str,
    reason: str,
    automatic: bool,
) -> Promotion:
    promotion = Promotion.objects.create(
        model_line=line,
        version=version,
        previous=previous,
        kind=kind,
        actor=person(actor),
        automatic=automatic,
        reason=reason,
        metrics=version.metrics,
        content_hash=version.content_hash,
    )
    record_event(
        actor,
        f"version.{'promoted' if kind == PromotionKind.PROMOTE else 'rolled_back_to'}",
        version,
        before={"production": previous.number if previous else None},
        after={**version_snapshot(version), "reason": reason, "automatic": automatic},
        model_line_id=line.pk,
    )
    return promotion


def _point_production(
    actor: User | None,
    line: ModelLine,
    version: ModelVersion,
    *,
    kind: str,
    reason: str,
    automatic: bool,
) -> Promotion:
    """Make `version` production and bring every other version and fact of the line in line with it."""
    previous = production_version(line)
    lineage = ancestry(version)
    applied = {fact_id for ancestor in lineage for fact_id in ancestor.fact_ids}
    _settle_other_versions(line, version, {ancestor.pk for ancestor in lineage})
    _mark_production(version, reason or f"{kind} ({'automatic' if automatic else 'operator'})")
    _bring_in_facts(version, applied, [ancestor.pk for ancestor in lineage])
    _take_out_facts(actor, line, version, applied)
    _hold_orphaned_facts(line, version, applied)
    promotion = _record_promotion(actor, line, version, previous, kind=kind, reason=reason, automatic=automatic)
    # MLflow follows the database after commit: its aliases. No full checkpoint is exported: each
    # registered version is a pyfunc model that rebuilds itself from the deltas (mlops/serving.py).
    enqueue(tasks.SYNC_ALIASES, line.pk)
    # A signed checkpoint of the audit trail at every promotion (apps/audit/signer.py).
    enqueue(tasks.CHECKPOINT_AUDIT)
    return promotion


# --- the decisions ------------------------------------------------------------------------------


def _locked_with_production(version: ModelVersion) -> tuple[ModelLine, ModelVersion, ModelVersion | None]:
    """The line (locked), the version as it is now, and the line's production version."""
    line = locked_line(version.model_line_id)
    version = ModelVersion.objects.select_related("batch").get(pk=version.pk)
    return line, version, production_version(line)


def _refuse_failed(version: ModelVersion, consequence: str) -> None:
    if version.state == VersionState.FAILED:
        raise TransitionError(f"{version.label} failed ({version.state_reason}) and {consequence}")


@transaction.atomic(durable=True)
def promote(
    actor: User | None, version: ModelVersion, reason: str = "", *, automatic: bool = False
) -> Promotion | None:
    """Point production at `version`.

    automatic (actor None): only a candidate that met every gate and descends from production is
    promoted; otherwise nothing happens (an operator acted meanwhile) and None is returned.
    An operator may promote any version that did not fail, with a reason.
    """
    line, version, current = _locked_with_production(version)
    if automatic:
        if version.state != VersionState.CANDIDATE or not gates.all_passed(version.gate_results):
            return None
        if current is not None and not _follows(version, current):
            return None
        return _point_production(
            None, line, version, kind=PromotionKind.PROMOTE, reason="met every gate", automatic=True
        )
    reason = operator_reason(actor, "promote a version", reason, "this version is promoted by hand")
    _refuse_failed(version, "cannot be promoted")
    if current is not None and current.pk == version.pk:
        raise TransitionError(f"{version.label} is already in production")
    return _point_production(actor, line, version, kind=PromotionKind.PROMOTE, reason=reason, automatic=False)


@transaction.atomic(durable=True)
def rollback(actor: User, version: ModelVersion, reason: str) -> Promotion:
    """Point production back at an earlier version, exactly; facts applied after it become rolled back."""
    reason = operator_reason(actor, "roll back production", reason, "production is rolled back")
    line, version, current = _locked_with_production(version)
    if current is None or version.number >= current.number:
        raise TransitionError(
            f"{version.label} is not earlier than production ({current.label if current else 'none'}); "
            "promote it instead"
        )
    _refuse_failed(version, "cannot serve production")
    return _point_production(actor, line, version, kind=PromotionKind.ROLLBACK, reason=reason, automatic=False)


@transaction.atomic(durable=True)
def hold(actor: User, version: ModelVersion, reason: str) -> Promotion:
    """Stop a candidate from being promoted (and the candidates built on it); its facts are held."""
    reason = operator_reason(actor, "hold a version", reason, "this version is held")
    line = locked_line(version.model_line_id)
    version = ModelVersion.objects.get(pk=version.pk)
    if version.state != VersionState.CANDIDATE:
        raise TransitionError(
            f"only a candidate can be held; {version.label} is {version.state}"
            + (" (roll back to an earlier version instead)" if version.state == VersionState.PRODUCTION else "")
        )
    built_on_it = ModelVersion.objects.filter(pk__in=descendant_ids(version), state=VersionState.CANDIDATE)
    held = [version, *built_on_it]
    for item in held:
        item.state = VersionState.HELD
        item.state_reason = reason if item.pk == version.pk else f"built on {version.label}, which was held"
        item.save(update_fields=["state", "state_reason"])
        queued = FactEdit.objects.filter(pk__in=item.fact_ids, state=FactState.QUEUED)
        if queued.exists():
            transition_facts(None, queued, FactState.HELD, reason=f"{item.label} held: {item.state_reason}")
    promotion = Promotion.objects.create(
        model_line=line,
        version=version,
        previous=production_version(line),
        kind=PromotionKind.HOLD,
        actor=actor,
        reason=reason,
        metrics=version.metrics,
        content_hash=version.content_hash,
        aliases_synced=True,
    )
    record_event(
        actor,
        "version.held",
        version,
        after={**version_snapshot(version), "reason": reason, "also_held": [v.number for v in held[1:]]},
        model_line_id=line.pk,
    )
    return promotion

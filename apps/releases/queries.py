"""Reads of the release pipeline: which version serves, which one the next batch edits, a version's lineage.

Writes are in apps.releases.actions; these only read (workers, pages and the actions all use them).
A lineage is walked in the database with one recursive query, so its cost does not grow with its length
while the actions hold the line's row locked.
"""

from django.db import connection
from django.db.models import Max

from apps.core.errors import TransitionError
from apps.facts.models import FactEdit, FactState
from apps.facts.states import KEEPS_REGRESSING
from apps.modellines.models import ModelLine
from apps.releases.models import Batch, FactCheck, ModelVersion, Probe, ProbeState, VersionFactResult, VersionState

# The versions a new batch may build on: the newest of them is the lineage's head.
HEAD_STATES = (VersionState.CANDIDATE, VersionState.PRODUCTION)

_TABLE = ModelVersion._meta.db_table
# The version and its ancestors, oldest first (depth counts the steps up from the version).
_ANCESTRY_SQL = f"""
    WITH RECURSIVE chain (id, depth) AS (
        SELECT id, 0 FROM {_TABLE} WHERE id = %s
        UNION ALL
        SELECT v.parent_id, chain.depth + 1 FROM {_TABLE} v JOIN chain ON v.id = chain.id
        WHERE v.parent_id IS NOT NULL
    )
    SELECT v.* FROM {_TABLE} v JOIN chain ON v.id = chain.id ORDER BY chain.depth DESC
"""
# Every version built on the given one, however far down.
_DESCENDANTS_SQL = f"""
    WITH RECURSIVE below (id) AS (
        SELECT id FROM {_TABLE} WHERE parent_id = %s
        UNION ALL
        SELECT v.id FROM {_TABLE} v JOIN below ON v.parent_id = below.id
    )
    SELECT id FROM below
"""


def next_version_number(model_line: ModelLine | int) -> int:
    """The number the line's next version gets (one above its highest)."""
    top = ModelVersion.objects.filter(model_line=model_line).aggregate(top=Max("number"))["top"]
    return (top or 0) + 1


def production_version(model_line: ModelLine | int) -> ModelVersion | None:
    return ModelVersion.objects.filter(model_line=model_line, state=VersionState.PRODUCTION).first()


def head_version(model_line: ModelLine | int) -> ModelVersion | None:
    """The version the next batch edits: the newest candidate or production version."""
    return ModelVersion.objects.filter(model_line=model_line, state__in=HEAD_STATES).order_by("-number").first()


def ancestry(version: ModelVersion) -> list[ModelVersion]:
    """The version and its ancestors, oldest first (the base checkpoint, v0, comes first): one query."""
    return list(ModelVersion.objects.raw(_ANCESTRY_SQL, [version.pk]))


def ancestor_ids(version: ModelVersion) -> set[int]:
    """The ids of the version and its ancestors."""
    return {ancestor.pk for ancestor in ancestry(version)}


def descendant_ids(version: ModelVersion) -> set[int]:
    """The ids of every version built on this one (children, their children, ...): one query."""
    with connection.cursor() as cursor:
        cursor.execute(_DESCENDANTS_SQL, [version.pk])
        return {row[0] for row in cursor.fetchall()}


def applied_fact_ids(version: ModelVersion) -> list[int]:
    """Every fact whose edit the version's weights hold, in application order."""
    return [fact_id for ancestor in ancestry(version) for fact_id in ancestor.fact_ids]


def probe_answers(version: ModelVersion, prompts: list[str]) -> dict[str, str]:
    """What the version already answered to these prompts (probes it finished), the newest answer of each."""
    done = Probe.objects.filter(version=version, prompt__in=set(prompts), state=ProbeState.DONE).order_by("id")
    return dict(done.values_list("prompt", "answer"))


def latest_fact_results(version_ids: list[int], fact_ids: list[int]) -> dict[int, dict]:
    """Each fact's results from the newest of these versions that evaluated it."""
    results: dict[int, dict] = {}
    rows = VersionFactResult.objects.filter(version_id__in=version_ids, fact_id__in=fact_ids).select_related("version")
    for row in sorted(rows, key=lambda r: r.version.number):
        results[row.fact_id] = {**row.results, "version": row.version.number}
    return results


def revert_plan(batch: Batch, head: ModelVersion) -> tuple[ModelVersion | None, list[tuple[int | None, list[int]]]]:
    """For a revert batch: the version to start from and the (batch id, fact ids) segments to replay.

    Computed against the lineage's head at apply time, so batches applied since the request are kept.
    """
    fact_id = batch.fact_ids[0]
    lineage = ancestry(head)
    for index, version in enumerate(lineage):
        if fact_id in version.fact_ids:
            start = lineage[index - 1] if index else None  # the version's parent
            later = lineage[index:]
            break
    else:
        raise TransitionError(f"fact #{fact_id} is not in the lineage of {head.label} any more")
    segments = []
    for version in later:
        remaining = [fid for fid in version.fact_ids if fid != fact_id]
        if remaining:
            segments.append((version.batch_id, remaining))
    return start, segments


# Regressed facts a line page lists by name (the count says how many in all).
REGRESSED_SHOWN = 20


def self_check(model_line: ModelLine) -> dict:
    """What a line's self-check found: the regressed facts (waiting for the next batch), those held because
    they keep regressing, and the latest full check of production."""
    regressed = FactEdit.objects.filter(model_line=model_line, state=FactState.REGRESSED)
    keeps = FactEdit.objects.filter(
        model_line=model_line, state=FactState.HELD, state_reason__startswith=KEEPS_REGRESSING
    )
    return {
        "regressed": list(regressed.order_by("regressed_at", "id")[:REGRESSED_SHOWN]),
        "regressed_count": regressed.count(),
        "keeps_regressing": list(keeps.order_by("regressed_at", "id")[:REGRESSED_SHOWN]),
        "keeps_regressing_count": keeps.count(),
        "check": FactCheck.objects.filter(model_line=model_line).select_related("version").first(),
    }

"""From a batch to a recorded version: materialise the parent, edit, evaluate, track, record.

Plain functions (the Celery tasks in workers/gpu.py and `python -m bench pipeline` both call them):
`gather` reads the database, `edit_and_evaluate` touches only the model and files, `apply_batch`
records. The order makes a crash at any point harmless: nothing reaches the database until MLflow
holds the version, and the database write is one transaction keyed on the batch.
"""

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

import editor.metrics as names
from apps.facts.models import FactEdit
from apps.modellines.editing import base_model_path
from apps.modellines.models import ModelLine
from apps.releases import actions
from apps.releases.locks import lineage_lock
from apps.releases.models import Batch, BatchKind, BatchState, ModelVersion
from apps.releases.progress import report_stage
from apps.releases.queries import probe_answers
from apps.releases.records import BuiltVersion
from mlops import tracking
from workers import holds, lineage, staged
from workers.asking import edit_request, locality_probes, recheck_sample, said, split_paraphrases, still_said

log = logging.getLogger(__name__)


@dataclass
class Stages:
    """Seconds spent in each stage of one apply."""

    seconds: dict[str, float] = field(
        default_factory=lambda: {"load": 0.0, "materialise": 0.0, "edit": 0.0, "evaluate": 0.0, "mlflow": 0.0}
    )

    def timed(self, stage: str):
        stages = self

        class _Timer:
            def __enter__(self) -> None:
                self.started = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                stages.seconds[stage] += time.perf_counter() - self.started

        return _Timer()


def ensure_base(line: ModelLine, model: lineage.LineModel) -> ModelVersion:
    """Version 0 (the base checkpoint) exists, in MLflow and the database."""
    existing = ModelVersion.objects.filter(model_line=line, number=0).first()
    if existing is not None:
        return existing
    content_hash = lineage.write_new_version(model, None, [])
    path = base_model_path(line.base_model)
    tracked = tracking.log_version(
        line,
        batch_key="base",
        number=0,
        parent_number=None,
        params={"model_line": line.name, "base_model": path, "kind": "base", **_editor_params(model)},
        metrics={},
        artifacts_dir=None,
        report={"kind": "base", "content_hash": content_hash},
        content_hash=content_hash,
        fact_count=0,
        serving=lineage.serving_manifest(model, line, None, 0, snapshot=False),
    )
    version = actions.ensure_base_version(line, content_hash, tracked, lineage.checkpoint_bytes(path))
    lineage.remember(model, version)
    return version


def _editor_params(model: lineage.LineModel) -> dict[str, Any]:
    return {f"editor.{key}": value for key, value in model.config.to_dict().items()}


@dataclass
class BuildInputs:
    """Everything a build reads from the database, gathered before the model is touched."""

    fact_ids: list[int]
    requests: list[Any]  # editor.EditRequest, in fact order, with the paraphrases the edit may use as rows
    judged: list[Any]  # the same facts as evaluated: only the paraphrases the edit never saw
    segments: list[list[int]]  # fact ids edited as one Editor.apply each, in order
    rechecked: list[FactEdit]  # earlier applied facts asked again: still said, or regressed?
    probes: list[Any]  # locality probes: the line's, the general set, the facts' own
    answered: list[int]  # facts whose answers before/after are recorded
    # What the start version already answered to those facts' prompts (their submission's probes): not asked again.
    known_answers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What editing and evaluating produced; the deltas and normaliser state are files in staging."""

    content_hash: str
    metrics: dict[str, float]
    per_fact: dict[int, dict[str, Any]]
    failure: str
    evaluation: dict[str, Any]
    snapshot: bool = False  # a dense snapshot of the new chain state is in staging (lineage.stage_snapshot)
    # Earlier facts asked again: fact id -> (answer, still said).
    rechecked: dict[int, tuple[str, bool]] = field(default_factory=dict)


def gather(
    line: ModelLine,
    batch: Batch,
    start: ModelVersion,
    segments: list[tuple[int | None, list[int]]],
    *,
    paraphrase_rows: bool = False,
) -> BuildInputs:
    fact_ids = [fact_id for _, ids in segments for fact_id in ids]
    facts = FactEdit.objects.in_bulk(fact_ids)
    wordings = {pk: split_paraphrases(list(facts[pk].paraphrases or []), as_rows=paraphrase_rows) for pk in fact_ids}
    requests = [edit_request(facts[pk], wordings[pk].edited) for pk in fact_ids]
    probes = locality_probes(line, requests)
    return BuildInputs(
        fact_ids=fact_ids,
        requests=requests,
        judged=[edit_request(facts[pk], wordings[pk].judged) for pk in fact_ids],
        segments=[ids for _, ids in segments],
        rechecked=recheck_sample(line, start, exclude=fact_ids, seed=batch.pk),
        probes=probes,
        answered=fact_ids[: settings.AMEND_FACT_ANSWERS],
        known_answers=probe_answers(start, [facts[pk].prompt for pk in fact_ids[: settings.AMEND_FACT_ANSWERS]]),
    )


def edit_and_evaluate(
    model: lineage.LineModel,
    start: ModelVersion,
    inputs: BuildInputs,
    staging: Path,
    stages: Stages,
    progress: Callable[[str], None],
) -> Outcome:
    """Edit `start` with each segment in turn and evaluate the result: no database access.
    ``progress(stage)`` is told when editing and evaluating begin."""
    import torch

    from editor import Editor, EditorError, evaluate, locality_baseline, perplexity
    from editor.errors import NonFiniteEditError
    from editor.metrics import GENERATION_RETENTION
    from editor.model import get_module

    with stages.timed("materialise"):
        lineage.hold_version(model, start)
    by_id = dict(zip(inputs.fact_ids, inputs.requests, strict=True))
    answered = [by_id[i] for i in inputs.answered]
    with stages.timed("evaluate"):
        # Start's own evaluation already asked these weights (a warm worker that built it): not asked again.
        known = model.measured if model.measured and model.measured.content_hash == start.content_hash else None
        baseline = locality_baseline(model.loaded, inputs.probes, known=known.locality if known else None)
        perplexity_before = known.perplexity if known else perplexity(model.loaded, model.fluency_text)
        unknown = {r.prompt: r.target for r in answered if r.prompt not in inputs.known_answers}
        decoded = said(model.loaded, [(prompt, prompt, target) for prompt, target in unknown.items()])
        before = {**inputs.known_answers, **{prompt: answer for prompt, (answer, _) in decoded.items()}}
        answers_before = [before[r.prompt] for r in answered]

    progress("editing")
    with stages.timed("edit"):
        editor = Editor(model.loaded, model.config, lineage.load_normalizer(start), prepared=model.prepared)
        try:
            deltas = [editor.apply([by_id[i] for i in ids]) for ids in inputs.segments]
        except NonFiniteEditError as exc:
            if len(inputs.segments) != 1:
                raise  # a revert's replay: the facts were applied before, the batch fails as a whole
            raise _non_finite_facts(model, start, inputs, exc) from exc
    failure = ""
    with stages.timed("materialise"):
        # Canonical weights: start's chain state advanced by the new deltas, as any machine will rebuild them.
        try:
            content_hash = lineage.write_new_version(model, start, deltas)
        except EditorError as exc:
            raise EditorError(f"the edit produced unusable weights: {exc}") from exc
        weights = {name: get_module(model.loaded.model, name).weight for name in model.base.modules}
        bad = [name for name, weight in weights.items() if not torch.isfinite(weight).all()]
        if bad:
            failure = f"non-finite weights in {', '.join(bad)}"

    progress("evaluating")
    with stages.timed("evaluate"):
        # Judged on the wordings the edit never saw; each prompt decoded once (the answer after is the
        # evaluation's own). Earlier facts are asked once too, by the check below, not by `evaluate`.
        report = evaluate(
            model.loaded,
            inputs.judged,
            locality_baseline=baseline,
            fluency_text=model.fluency_text,
            perplexity_before=perplexity_before,
        )
        rechecked = still_said(model.loaded, inputs.rechecked)
    if not failure and names.PERPLEXITY in report.metrics:
        model.measured = lineage.Measured(content_hash, report.locality_now, report.metrics[names.PERPLEXITY])
    metrics = {key: float(value) for key, value in report.metrics.items()}
    if rechecked:
        metrics[GENERATION_RETENTION] = sum(said for _, said in rechecked.values()) / len(rechecked)

    by_fact = dict(zip(inputs.fact_ids, zip(inputs.requests, inputs.judged, strict=True), strict=True))
    per_fact = {
        fact_id: _fact_result(item, by_fact[fact_id], answers_before[index] if index < len(answers_before) else None)
        for index, (fact_id, item) in enumerate(zip(inputs.fact_ids, report.per_request, strict=True))
    }
    with stages.timed("mlflow"):
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "deltas").mkdir(parents=True)
        for index, delta in enumerate(deltas, start=1):
            delta.save(staging / "deltas" / f"delta-{index}.safetensors")
        editor.normalizer.save(staging / "normalizer.safetensors")
        snapshot = lineage.stage_snapshot(model, start, deltas, staging)
    evaluation = {
        "parent_version": start.number,
        "metrics": metrics,
        "per_fact": [{"fact_id": fact_id, **per_fact[fact_id]} for fact_id in inputs.fact_ids],
        "rechecked": [
            {"fact_id": pk, "answer": answer, "still_said": said} for pk, (answer, said) in rechecked.items()
        ],
        "locality_probes": len(inputs.probes),
        "content_hash": content_hash,
    }
    return Outcome(content_hash, metrics, per_fact, failure, evaluation, snapshot, rechecked)


class NonFiniteFactsError(Exception):
    """Editing a batch would make the weights non-finite; `fact_ids` are the facts to blame (held), the
    batch's other facts are innocent (back to the queue)."""

    def __init__(self, message: str, fact_ids: list[int]) -> None:
        super().__init__(message)
        self.fact_ids = fact_ids


def _non_finite_facts(
    model: lineage.LineModel, start: ModelVersion, inputs: BuildInputs, error: Exception
) -> NonFiniteFactsError:
    from editor.isolate import non_finite_culprits

    culprits = non_finite_culprits(
        model.loaded, model.config, lineage.load_normalizer(start), inputs.requests, prepared=model.prepared
    )
    fact_ids = [inputs.fact_ids[i] for i in culprits]
    named = ", ".join(f"#{pk}" for pk in fact_ids)
    whose = f"the edit of fact {named}" if len(fact_ids) == 1 else f"the edit of facts {named} together"
    others = len(inputs.fact_ids) - len(fact_ids)
    message = f"{whose} makes the weights non-finite ({error}); held, {others} other fact(s) back in the queue"
    log.error("%s", message)
    return NonFiniteFactsError(message, fact_ids)


def _fact_result(item: dict[str, Any], wordings: tuple[Any, Any], answer_before: str | None) -> dict[str, Any]:
    """A fact's figures in a version. ``took``: the model's greedy answer to the prompt now begins
    with the target, which is what decides whether the fact counts as applied. Generalisation is judged
    on ``paraphrases_judged`` only; ``paraphrases_edited`` were edit rows (the editor's paraphrase_rows)."""
    edited, judged = wordings
    figures = (names.TOKEN_EFFICACY, names.TOKEN_GENERALIZATION, names.LOCALITY)  # keys of the per-fact report
    result = {key: item[key] for key in figures if key in item}
    result["took"] = bool(item.get("says_target", False))
    if "paraphrases_say_target" in item:
        result["paraphrases_took"] = item["paraphrases_say_target"]
    if edited.paraphrases:
        result["paraphrases_edited"] = list(edited.paraphrases)
        result["paraphrases_judged"] = list(judged.paraphrases)
    if answer_before is not None:
        result["answer_before"], result["answer_after"] = answer_before, item.get("answer", "")
    return result


def _reached(batch_id: int, stage: str) -> None:
    """Say the batch is at this stage (its page shows it); a test may hold the worker here (workers/holds.py)."""
    report_stage(batch_id, stage)
    holds.hold_at(stage, batch_id)


def apply_batch(batch_id: int) -> ModelVersion | None:
    """Build and record the version of a pending batch, holding the lineage for the whole apply.

    Returns the version (also when the batch had one already: a redelivery), or None when the batch
    is no longer pending. Raises TrackingUnavailableError (retry later), EditorError / LineageError /
    TransitionError (the batch cannot produce a version).
    """
    batch = Batch.objects.select_related("model_line").get(pk=batch_id)
    line = batch.model_line
    with lineage_lock(line.pk):
        batch.refresh_from_db()
        existing = ModelVersion.objects.filter(batch=batch).first()
        if existing is not None or batch.state != BatchState.PENDING:
            return existing
        stages = Stages()
        _reached(batch.pk, "loading")
        model = lineage.line_model(line)
        stages.seconds["load"] = model.load_seconds
        with stages.timed("mlflow"):
            base = ensure_base(line, model)
        head = actions.head_version(line) or base
        if batch.kind == BatchKind.REVERT:
            start, segments = actions.revert_plan(batch, head)
        else:
            start, segments = head, [(batch.pk, list(batch.fact_ids))]
        staging = lineage.cache_dir() / "staging" / f"batch-{batch.pk}"
        number = actions.next_version_number(line)
        built_from = timezone.now()
        reused = False  # the edit of an earlier delivery: the loaded weights are not the new version's then
        if segments:
            inputs = gather(
                line, batch, start, segments, paraphrase_rows=getattr(model.config, "paraphrase_rows", False)
            )
            edited = {"batch": batch.pk, "start": start.pk, "fact_ids": inputs.fact_ids}
            outcome = staged.reuse(staging, edited, Outcome)
            reused = outcome is not None
            if outcome is None:
                outcome = edit_and_evaluate(model, start, inputs, staging, stages, lambda s: _reached(batch.pk, s))
                staged.keep(staging, edited, outcome)
            fact_ids = inputs.fact_ids
        else:
            outcome, fact_ids = _empty_replay(model, start, staging, stages), []
        _reached(batch.pk, "recording")
        stored = _stored_bytes(staging)
        with stages.timed("mlflow"):
            tracked = tracking.log_version(
                line,
                batch_key=str(batch.pk),
                number=number,
                parent_number=start.number,
                params={
                    "model_line": line.name,
                    "batch": batch.pk,
                    "kind": batch.kind,
                    "parent_version": start.number,
                    "fact_count": len(fact_ids),
                    "base_model": base_model_path(line.base_model),
                    **_editor_params(model),
                },
                metrics={**outcome.metrics, "delta_bytes": stored},
                artifacts_dir=staging,
                report={"batch": batch.pk, "kind": batch.kind, **outcome.evaluation},
                content_hash=outcome.content_hash,
                fact_count=len(fact_ids),
                serving=lineage.serving_manifest(
                    model, line, start, len(list(staging.glob("deltas/*.safetensors"))), snapshot=outcome.snapshot
                ),
            )
        count = len(list((staging / "deltas").glob("delta-*.safetensors")))
        built = BuiltVersion(
            number=number,
            parent_id=start.pk,
            fact_ids=fact_ids,
            content_hash=outcome.content_hash,
            metrics=outcome.metrics,
            per_fact=outcome.per_fact,
            delta_paths=[f"runs:/{tracked.run_id}/deltas/delta-{i}.safetensors" for i in range(1, count + 1)],
            normalizer_path=f"runs:/{tracked.run_id}/normalizer.safetensors",
            delta_bytes=stored,
            checkpoint_bytes=lineage.checkpoint_bytes(base_model_path(line.base_model)),
            stage_seconds={key: round(value, 4) for key, value in stages.seconds.items()},
            built_from=built_from,
            built_until=timezone.now(),
            replayed_batch_ids=[b for b, _ in segments if b is not None] if batch.kind == BatchKind.REVERT else [],
            failure=outcome.failure,
            editor_config=model.config.to_dict(),
            snapshot_path=f"runs:/{tracked.run_id}/{lineage.SNAPSHOT_FILE}" if outcome.snapshot else "",
            rechecked=outcome.rechecked,
        )
        version = actions.record_version(batch, built, tracked)
        # Into the worker's cache only once recorded: a retry after a failed recording reuses the staging.
        run_dir = lineage.cache_dir() / tracked.run_id
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.move(str(staging), run_dir)
        staged.forget(staging)
        if version.content_hash == built.content_hash and not reused:
            lineage.remember(model, version)
        return version


def _stored_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*.safetensors")) if directory.is_dir() else 0


def _empty_replay(model: lineage.LineModel, start: ModelVersion, staging: Path, stages: Stages) -> Outcome:
    """Reverting the only fact after `start`: the new version is `start`'s weights, re-recorded."""
    with stages.timed("materialise"):
        content_hash = lineage.hold_version(model, start)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    lineage.load_normalizer(start).save(staging / "normalizer.safetensors")
    return Outcome(content_hash, dict(start.metrics), {}, "", {"parent_version": start.number, "replayed": []})

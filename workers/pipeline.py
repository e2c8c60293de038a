"""From a batch to a recorded version: materialise the parent, edit, evaluate, track, record.

Plain functions (the Celery tasks in workers/gpu.py and `manage.py bench_pipeline` both call
them). The order makes a crash at any point harmless: nothing reaches the database until MLflow
holds the version, and the database write is one transaction keyed on the batch.
"""

import logging
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine
from apps.releases import actions
from apps.releases.models import Batch, BatchKind, BatchState, ModelVersion
from apps.releases.records import BuiltVersion
from workers import lineage, tracking
from workers.locks import lineage_lock

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


def _edit_request(fact: FactEdit) -> Any:
    from workers.editor import EditRequest, LocalityProbe

    return EditRequest(
        prompt=fact.prompt,
        target=fact.target,
        paraphrases=list(fact.paraphrases or []),
        locality=[LocalityProbe(prompt=p["prompt"], answer=p.get("answer")) for p in fact.locality_probes or []],
    )


def _line_probes(line: ModelLine) -> list[Any]:
    """The line's own locality probes, then Amend's fixed general-knowledge set, so that damage to
    what the model knows shows in every version whatever probes the line was given."""
    from workers.editor import LocalityProbe
    from workers.editor.general import general_knowledge_probes

    own = [LocalityProbe(prompt=p["prompt"], answer=p.get("answer")) for p in line.locality_probes or []]
    return own + general_knowledge_probes()


def retention_sample(fact_ids: list[int], seed: int) -> list[int]:
    """Every earlier fact, or a fixed-size sample (seeded by the batch) above AMEND_RETENTION_SAMPLE."""
    size = settings.AMEND_RETENTION_SAMPLE
    if len(fact_ids) <= size:
        return list(fact_ids)
    return sorted(random.Random(seed).sample(sorted(fact_ids), size))


def _answers(model: lineage.LineModel, facts: list[FactEdit]) -> list[str]:
    """Greedy answers to the facts' prompts, a couple of tokens beyond the longest target."""
    from workers.answers import greedy_answers
    from workers.editor.tokens import target_ids

    if not facts:
        return []
    longest = max(len(target_ids(model.loaded.tokenizer, fact.target)) for fact in facts)
    return greedy_answers(model.loaded, [fact.prompt for fact in facts], max_new_tokens=min(24, longest + 2))


def ensure_base(line: ModelLine, model: lineage.LineModel) -> ModelVersion:
    """Version 0 (the base checkpoint) exists, in MLflow and the database."""
    existing = ModelVersion.objects.filter(model_line=line, number=0).first()
    if existing is not None:
        return existing
    from workers.editor import materialize

    content_hash = materialize(model.loaded, model.base, [])
    model.version_id = None
    path = lineage.base_model_path(line)
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
    )
    version = actions.ensure_base_version(line, content_hash, tracked, lineage.checkpoint_bytes(path))
    lineage.remember(model, version)
    return version


def _editor_params(model: lineage.LineModel) -> dict[str, Any]:
    return {f"editor.{key}": value for key, value in model.config.to_dict().items()}


def build(
    line: ModelLine,
    model: lineage.LineModel,
    batch: Batch,
    start: ModelVersion,
    segments: list[tuple[int | None, list[int]]],
    staging: Path,
    stages: Stages,
) -> tuple[BuiltVersion, dict[str, Any]]:
    """Edit `start` with each segment of facts in turn and evaluate the result. Files go to `staging`."""
    import torch

    from workers.editor import Editor, EditorError, evaluate, locality_baseline, materialize, perplexity
    from workers.editor.model import get_module

    built_from = timezone.now()
    with stages.timed("materialise"):
        lineage.materialise(model, start)
    fact_ids = [fact_id for _, ids in segments for fact_id in ids]
    facts = FactEdit.objects.in_bulk(fact_ids)
    requests = [_edit_request(facts[fact_id]) for fact_id in fact_ids]
    retained_ids = retention_sample(start.applied_fact_ids(), seed=batch.pk)
    retained_facts = FactEdit.objects.in_bulk(retained_ids)
    retained = [_edit_request(retained_facts[i]) for i in retained_ids if i in retained_facts]
    probes = _line_probes(line)
    seen = {(p.prompt, p.answer) for p in probes}
    for request in requests:
        for probe in request.locality:
            if (probe.prompt, probe.answer) not in seen:
                seen.add((probe.prompt, probe.answer))
                probes.append(probe)
    answer_limit = settings.AMEND_FACT_ANSWERS
    answered = fact_ids[:answer_limit]

    with stages.timed("evaluate"):
        baseline = locality_baseline(model.loaded, probes)
        perplexity_before = perplexity(model.loaded, model.fluency_text)
        answers_before = dict(zip(answered, _answers(model, [facts[i] for i in answered]), strict=True))

    with stages.timed("edit"):
        editor = Editor(model.loaded, model.config, lineage.load_normalizer(start))
        deltas = []
        for _, ids in segments:
            deltas.append(editor.apply([requests[fact_ids.index(i)] for i in ids]))
    failure = ""
    with stages.timed("materialise"):
        # Canonical weights: base + the whole chain summed in fp32, as any machine will rebuild them.
        model.version_id = None
        try:
            content_hash = materialize(model.loaded, model.base, [*map(lineage.load_delta, start.delta_chain), *deltas])
        except EditorError as exc:
            raise EditorError(f"the edit produced unusable weights: {exc}") from exc
        weights = {name: get_module(model.loaded.model, name).weight for name in model.base.modules}
        bad = [name for name, weight in weights.items() if not torch.isfinite(weight).all()]
        if bad:
            failure = f"non-finite weights in {', '.join(bad)}"

    with stages.timed("evaluate"):
        report = evaluate(
            model.loaded,
            requests,
            locality_baseline=baseline,
            retained=retained,
            fluency_text=model.fluency_text,
            perplexity_before=perplexity_before,
        )
        answers_after = dict(zip(answered, _answers(model, [facts[i] for i in answered]), strict=True))

    per_fact: dict[int, dict[str, Any]] = {}
    for fact_id, item in zip(fact_ids, report.per_request, strict=True):
        result = {key: item[key] for key in ("efficacy", "generalization", "locality") if key in item}
        if fact_id in answers_before:
            result["answer_before"] = answers_before[fact_id]
            result["answer_after"] = answers_after[fact_id]
        per_fact[fact_id] = result

    with stages.timed("mlflow"):
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "deltas").mkdir(parents=True)
        for index, delta in enumerate(deltas, start=1):
            delta.save(staging / "deltas" / f"delta-{index}.safetensors")
        editor.normalizer.save(staging / "normalizer.safetensors")
    stored = sum(f.stat().st_size for f in staging.rglob("*.safetensors"))
    built = BuiltVersion(
        parent_id=start.pk,
        fact_ids=fact_ids,
        content_hash=content_hash,
        metrics={key: float(value) for key, value in report.metrics.items()},
        per_fact=per_fact,
        delta_paths=[],
        normalizer_path="",
        delta_bytes=stored,
        checkpoint_bytes=lineage.checkpoint_bytes(lineage.base_model_path(line)),
        stage_seconds={},
        built_from=built_from,
        built_until=built_from,
        replayed_batch_ids=[batch_id for batch_id, _ in segments if batch_id is not None]
        if batch.kind == BatchKind.REVERT
        else [],
        failure=failure,
        editor_settings=model.config.to_dict(),
    )
    evaluation = {
        "batch": batch.pk,
        "kind": batch.kind,
        "parent_version": start.number,
        "metrics": built.metrics,
        "per_fact": [{"fact_id": fact_id, **per_fact[fact_id]} for fact_id in fact_ids],
        "retained_facts": len(retained),
        "locality_probes": len(probes),
        "content_hash": content_hash,
    }
    return built, evaluation


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
        if segments:
            built, evaluation = build(line, model, batch, start, segments, staging, stages)
        else:
            built, evaluation = _empty_replay(line, model, batch, start, staging, stages)
        numbers = ModelVersion.objects.filter(model_line=line).order_by("-number").values_list("number", flat=True)
        number = (numbers.first() or 0) + 1
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
                    "fact_count": len(built.fact_ids),
                    "base_model": lineage.base_model_path(line),
                    **_editor_params(model),
                },
                metrics={**built.metrics, "delta_bytes": built.delta_bytes},
                artifacts_dir=staging,
                report=evaluation,
                content_hash=built.content_hash,
                fact_count=len(built.fact_ids),
            )
        run_dir = lineage.cache_dir() / tracked.run_id
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.move(str(staging), run_dir)
        count = len(list((run_dir / "deltas").glob("delta-*.safetensors")))
        built.delta_paths = [f"runs:/{tracked.run_id}/deltas/delta-{i}.safetensors" for i in range(1, count + 1)]
        built.normalizer_path = f"runs:/{tracked.run_id}/normalizer.safetensors"
        built.stage_seconds = {key: round(value, 4) for key, value in stages.seconds.items()}
        built.built_until = timezone.now()
        version = actions.record_version(batch, built, tracked)
        if version.content_hash == built.content_hash:
            lineage.remember(model, version)
        return version


def _empty_replay(
    line: ModelLine, model: lineage.LineModel, batch: Batch, start: ModelVersion, staging: Path, stages: Stages
) -> tuple[BuiltVersion, dict[str, Any]]:
    """Reverting the only fact after `start`: the new version is `start`'s weights, re-recorded."""
    with stages.timed("materialise"):
        content_hash = lineage.materialise(model, start)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    lineage.load_normalizer(start).save(staging / "normalizer.safetensors")
    now = timezone.now()
    built = BuiltVersion(
        parent_id=start.pk,
        fact_ids=[],
        content_hash=content_hash,
        metrics=dict(start.metrics),
        per_fact={},
        delta_paths=[],
        normalizer_path="",
        delta_bytes=0,
        checkpoint_bytes=lineage.checkpoint_bytes(lineage.base_model_path(line)),
        stage_seconds={},
        built_from=now,
        built_until=now,
        editor_settings=model.config.to_dict(),
    )
    return built, {"batch": batch.pk, "kind": batch.kind, "parent_version": start.number, "replayed": []}

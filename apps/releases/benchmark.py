"""The body of `manage.py bench_pipeline` (runs inside its throwaway environment)."""

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.core.management import call_command


@dataclass
class BatchFigures:
    facts: int
    approval_to_production_s: float
    checkpoint_export_s: float
    stages_s: dict[str, float]
    other_s: float
    delta_bytes: int
    normalizer_bytes: int
    checkpoint_bytes: int
    state: str
    metrics: dict[str, float]

    @property
    def delta_share(self) -> float:
        return self.delta_bytes / self.checkpoint_bytes if self.checkpoint_bytes else float("nan")

    @property
    def stored_share(self) -> float:
        stored = self.delta_bytes + self.normalizer_bytes
        return stored / self.checkpoint_bytes if self.checkpoint_bytes else float("nan")


@dataclass
class Report:
    model: str
    batches: list[BatchFigures] = field(default_factory=list)

    def table(self, goal_seconds: float, goal_share: float) -> str:
        lines = [f"bench_pipeline on {self.model}"]
        for index, b in enumerate(self.batches, start=1):
            label = "cold: model loaded" if index == 1 else "warm: model kept in memory"
            total = b.approval_to_production_s
            lines.append(f"batch {index} ({b.facts} facts, {label}) -> version {b.state}")
            lines.append(f"  approval to production  {total:8.2f} s   (goal < {goal_seconds:.0f} s)")
            for stage, seconds in [*b.stages_s.items(), ("other (cut, DB, promote, aliases)", b.other_s)]:
                share = seconds / total * 100 if total else 0.0
                lines.append(f"    {stage:<34} {seconds:8.2f} s  {share:5.1f}%")
            lines.append(f"  full checkpoint export  {b.checkpoint_export_s:8.2f} s   (after promotion)")
            lines.append(f"  full checkpoint         {b.checkpoint_bytes:>12,} B")
            goal = f"(goal < {goal_share * 100:.0f}%)"
            lines.append(f"  delta factors           {b.delta_bytes:>12,} B  {b.delta_share * 100:7.3f}%  {goal}")
            lines.append(f"  + normaliser state      {b.normalizer_bytes:>12,} B  {b.stored_share * 100:7.3f}%  in all")
            shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(b.metrics.items()))
            lines.append(f"  metrics: {shown}")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {"model": self.model, "batches": [{**asdict(b), "delta_share": b.delta_share} for b in self.batches]},
            indent=2,
        )


def _approve_facts(line, records: list[dict]) -> list:
    from django.contrib.auth import get_user_model

    from apps.accounts.roles import Role, grant_role
    from apps.facts.actions import create_fact, review_fact

    users = get_user_model().objects
    curator, _ = users.get_or_create(username="bench-curator")
    reviewer, _ = users.get_or_create(username="bench-reviewer")
    grant_role(curator, Role.CURATOR)
    grant_role(reviewer, Role.REVIEWER)
    facts = []
    for record in records:
        fact = create_fact(
            curator,
            line,
            prompt=record["src"],
            target=record["alt"],
            paraphrases=[record["rephrase"]] if record.get("rephrase") else [],
            locality_probes=[{"prompt": record["loc"], "answer": record.get("loc_ans")}] if record.get("loc") else [],
            rationale="benchmark",
            source="https://example.org/bench",
        )
        review_fact(reviewer, fact, "approve", "benchmark")
        facts.append(fact)
    return facts


def run_benchmark(
    model_dir: Path, *, facts: int, batches: int, open_gates: bool, log: Callable[[str], object]
) -> Report:
    from django.contrib.auth import get_user_model

    from apps.accounts.roles import Role, grant_role
    from apps.modellines.actions import create_model_line
    from apps.releases import actions
    from apps.releases.models import BatchTrigger, ModelVersion, VersionState
    from workers import gpu, lineage, pipeline, tracking
    from workers.batching import sync_aliases

    call_command("migrate", verbosity=0)
    # A deployment's MLflow store exists before any approval: create this one's tables up front.
    tracking.client().search_experiments()
    operator, _ = get_user_model().objects.get_or_create(username="bench-operator")
    grant_role(operator, Role.OPERATOR)
    records = [json.loads(line) for line in (model_dir / "edits.jsonl").read_text().splitlines() if line.strip()]
    probes = [json.loads(line) for line in (model_dir / "locality_probes.jsonl").read_text().splitlines() if line]
    batches = min(batches, max(1, len(records) // facts))
    if len(records) < facts:
        log(f"the model has {len(records)} edits; the batch holds all of them")
    line = create_model_line(
        operator,
        name="bench",
        base_model=str(model_dir),
        batch_size=facts,
        locality_probes=[{"prompt": p["prompt"], "answer": p.get("answer")} for p in probes[:50]],
        # Open gates time the whole road to production whatever the editor's quality on this model.
        **(
            {
                "min_efficacy": 0.0,
                "min_generalization": 0.0,
                "min_locality": 0.0,
                "min_retention": 0.0,
                "max_perplexity_drift": 1e6,
            }
            if open_gates
            else {}
        ),
    )
    report = Report(model=str(model_dir))
    for index in range(batches):
        chunk = records[index * facts : (index + 1) * facts]
        _approve_facts(line, chunk)
        log(f"batch {index + 1}: {len(chunk)} facts approved; applying...")
        approved_at = time.perf_counter()
        batch = actions.cut_batch(None, line, trigger=BatchTrigger.SIZE)
        version = pipeline.apply_batch(batch.pk)
        promoted = actions.promote(None, version, automatic=True)
        if promoted is not None:
            sync_aliases(line.pk)
        production_at = time.perf_counter()
        version.refresh_from_db()
        export_started = time.perf_counter()
        if version.state == VersionState.PRODUCTION:
            gpu.export_checkpoint(version.pk)
        export_s = time.perf_counter() - export_started
        total = production_at - approved_at
        stages = dict(ModelVersion.objects.get(pk=version.pk).stage_seconds)
        run_dir = lineage.cache_dir() / version.mlflow_run_id
        delta_bytes = sum(f.stat().st_size for f in (run_dir / "deltas").glob("*.safetensors"))
        normalizer_bytes = (run_dir / "normalizer.safetensors").stat().st_size
        report.batches.append(
            BatchFigures(
                facts=len(chunk),
                approval_to_production_s=total,
                checkpoint_export_s=export_s,
                stages_s=stages,
                other_s=max(0.0, total - sum(stages.values())),
                delta_bytes=delta_bytes,
                normalizer_bytes=normalizer_bytes,
                checkpoint_bytes=version.checkpoint_bytes,
                state=version.state,
                metrics=version.metrics,
            )
        )
    return report

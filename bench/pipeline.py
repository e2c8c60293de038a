"""``python -m bench pipeline``: approval-to-production time of a batch on the bundled model.

    python -m bench pipeline [--facts 100] [--batches 2] [--open-gates] [--model DIR] [--data FILE] [--json]

Runs the pipeline's own code (workers.pipeline, the promotion action, the alias and checkpoint
tasks) in a child process against a throwaway SQLite database, MLflow store and worker cache in a
temporary directory, so it touches nothing of the real deployment. The child approves facts read
from a ZsRE JSONL file (src, rephrase, alt, loc, loc_ans), then times: cut the batch, load the
model, materialise the parent, edit, evaluate, record in MLflow, promote (alias `production`
moved), export the full checkpoint. The first batch is cold (the model is loaded); the next ones
show a worker that keeps the model in memory. It also reports the bytes stored per version (delta
factors + normaliser state) against a full checkpoint.
Goals on a 2-core machine: under 60 s approval to production, a delta under 1% of a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.django_bench import BenchError, BenchParser

CHILD_FLAG = "AMEND_BENCH_PIPELINE_CHILD"
GOAL_SECONDS = 60.0
GOAL_DELTA_SHARE = 0.01
# Records after the edited ones lend their `loc` prompts to the line's own locality probes.
LINE_PROBES = 50


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
    data: str
    batches: list[BatchFigures] = field(default_factory=list)

    def table(self, goal_seconds: float, goal_share: float) -> str:
        """Per batch: approval to production by stage, checkpoint export, bytes stored, metrics."""
        lines = [f"bench pipeline on {self.model}, facts from {self.data}"]
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
        """The same figures for scripts (the delta share included)."""
        return json.dumps(
            {
                "model": self.model,
                "data": self.data,
                "batches": [{**asdict(b), "delta_share": b.delta_share} for b in self.batches],
            },
            indent=2,
        )


def default_data() -> Path:
    """``../shared/data/zsre_dev.jsonl`` beside the repository (where the project keeps its data sets)."""
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "zsre_dev.jsonl"


def read_records(data: Path, limit: int) -> list[Any]:
    """The first ``limit`` ZsRE records as EditRequests; BenchError naming the file and line when one is bad."""
    from editor import EditorError, read_zsre

    try:
        return read_zsre(data, limit=limit)
    except EditorError as exc:
        raise BenchError(str(exc)) from None


def approve_facts(line: Any, requests: list[Any]) -> list[Any]:
    """Submit and approve one fact per request, as a curator and a reviewer would through the app."""
    from django.contrib.auth import get_user_model

    from apps.accounts.roles import Role, grant_role
    from apps.facts.actions import create_fact, review_fact

    users = get_user_model().objects
    curator, _ = users.get_or_create(username="bench-curator")
    reviewer, _ = users.get_or_create(username="bench-reviewer")
    grant_role(curator, Role.CURATOR)
    grant_role(reviewer, Role.REVIEWER)
    facts = []
    for request in requests:
        fact = create_fact(
            curator,
            line,
            prompt=request.prompt,
            target=request.target,
            paraphrases=list(request.paraphrases),
            locality_probes=[{"prompt": p.prompt, "answer": p.answer} for p in request.locality],
            rationale="benchmark",
            source="https://example.org/bench",
        )
        review_fact(reviewer, fact, "approve", "benchmark")
        facts.append(fact)
    return facts


def run_benchmark(
    model_dir: Path, data: Path, *, facts: int, batches: int, open_gates: bool, log: Callable[[str], object]
) -> Report:
    """In the throwaway environment: approve ``batches`` batches of ``facts`` facts and time each to production."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from apps.accounts.roles import Role, grant_role
    from apps.modellines.actions import create_model_line
    from apps.releases import actions
    from apps.releases.models import BatchTrigger, ModelVersion, VersionState
    from mlops import tracking
    from workers import gpu, lineage, pipeline
    from workers.batching import sync_aliases

    call_command("migrate", verbosity=0)
    # A deployment's MLflow store exists before any approval: create this one's tables up front.
    tracking.client().search_experiments()
    operator, _ = get_user_model().objects.get_or_create(username="bench-operator")
    grant_role(operator, Role.OPERATOR)
    records = read_records(data, facts * batches + LINE_PROBES)
    batches = min(batches, max(1, len(records) // facts))
    if len(records) < facts:
        log(f"{data} has {len(records)} records; the batch holds all of them")
    probes = [p for r in records[facts * batches :] for p in r.locality]
    line = create_model_line(
        operator,
        name="bench",
        base_model=str(model_dir),
        batch_size=facts,
        locality_probes=[{"prompt": p.prompt, "answer": p.answer} for p in probes[:LINE_PROBES]],
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
    report = Report(model=str(model_dir), data=str(data))
    for index in range(batches):
        chunk = records[index * facts : (index + 1) * facts]
        approve_facts(line, chunk)
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
        report.batches.append(
            BatchFigures(
                facts=len(chunk),
                approval_to_production_s=total,
                checkpoint_export_s=export_s,
                stages_s=stages,
                other_s=max(0.0, total - sum(stages.values())),
                delta_bytes=sum(f.stat().st_size for f in (run_dir / "deltas").glob("*.safetensors")),
                normalizer_bytes=(run_dir / "normalizer.safetensors").stat().st_size,
                checkpoint_bytes=version.checkpoint_bytes,
                state=version.state,
                metrics=version.metrics,
            )
        )
    return report


def build_parser() -> argparse.ArgumentParser:
    p = BenchParser(
        prog="python -m bench pipeline",
        description="Time approval to production of batches on the bundled model, stage by stage; bytes per version.",
    )
    p.add_argument("--facts", type=int, default=100, help="facts per batch (default 100)")
    p.add_argument("--batches", type=int, default=2, help="batches in a row (the first one is cold)")
    p.add_argument("--model", default="", help=f"model directory (default {settings.AMEND_BASE_MODEL_DIR})")
    p.add_argument("--data", default="", help=f"ZsRE JSONL with the facts (default {default_data()})")
    p.add_argument(
        "--open-gates", action="store_true", help="gates every version meets (time the promotion whatever the metrics)"
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    p.add_argument("--keep", action="store_true", help="keep the temporary database and MLflow store")
    return p


def main(argv: list[str]) -> int:
    """``python -m bench pipeline ARGS`` once Django is set up; BenchError on input it cannot run."""
    args = build_parser().parse_args(argv)
    model_dir = Path(args.model or settings.AMEND_BASE_MODEL_DIR).resolve()
    data = Path(args.data or default_data()).resolve()
    if args.facts < 1 or args.batches < 1:
        raise BenchError("--facts and --batches must be at least 1")
    if not (model_dir / "config.json").is_file():
        raise BenchError(
            f"no model at {model_dir}: prepare it with "
            f"`python -m editor fetch-model smollm2 --out {model_dir}` or pass --model"
        )
    if not data.is_file():
        raise BenchError(f"no ZsRE data file at {data}: pass --data FILE.jsonl (src, rephrase, alt, loc, loc_ans)")
    if os.environ.get(CHILD_FLAG) != "1":
        # A malformed file fails here, in one line, before a child loads the model.
        read_records(data, args.facts * args.batches + LINE_PROBES)
        return run_isolated(model_dir, data, args)
    report = run_benchmark(
        model_dir, data, facts=args.facts, batches=args.batches, open_gates=args.open_gates, log=print
    )
    print(report.table(GOAL_SECONDS, GOAL_DELTA_SHARE))
    if args.json:
        print(report.to_json())
    return 0


def run_isolated(model_dir: Path, data: Path, args: argparse.Namespace) -> int:
    """Re-run this benchmark in a child with a fresh database, MLflow store and cache in a temporary directory."""
    work = Path(tempfile.mkdtemp(prefix="amend-bench-pipeline-"))
    env = {
        **os.environ,
        CHILD_FLAG: "1",
        "AMEND_DEBUG": "1",
        "AMEND_VAR_DIR": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "CELERY_RESULT_BACKEND": "cache+memory://",
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow' / 'mlflow.db'}",
        "MLFLOW_ARTIFACT_ROOT": str(work / "mlflow" / "artifacts"),
        "AMEND_WORKER_CACHE_DIR": str(work / "worker-cache"),
        "AMEND_BASE_MODEL_DIR": str(model_dir),
    }
    argv = ["--facts", str(args.facts), "--batches", str(args.batches), "--model", str(model_dir), "--data", str(data)]
    argv += ["--open-gates"] * args.open_gates + ["--json"] * args.json
    try:
        code = subprocess.call([sys.executable, "-m", "bench", "pipeline", *argv], env=env, cwd=settings.BASE_DIR)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if code:
        raise BenchError(f"the benchmark failed (exit status {code})", code=code)
    return 0

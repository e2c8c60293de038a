"""``python -m bench pipeline``: approval-to-production time of a batch on the bundled model.

    python -m bench pipeline [--facts 100] [--batches 2] [--open-gates] [--check] [--set KEY=VALUE ...]
                             [--model DIR] [--data FILE] [--json]

Runs the pipeline's own code (workers.pipeline, the promotion action, the alias and checkpoint
tasks) in a child process against a throwaway SQLite database, MLflow store and worker cache in a
temporary directory, so it touches nothing of the real deployment. The child approves facts read
from a ZsRE JSONL file (src, rephrase, alt, loc, loc_ans), then times: cut the batch, load the
model, materialise the parent, edit, evaluate, record in MLflow, promote (alias `production`
moved), export the full checkpoint. The first batch is cold (the model is loaded); the next ones
show a worker that keeps the model in memory. It also reports the bytes stored per version (delta
factors + normaliser state) against a full checkpoint.
After the batches: the time per version (the last within 10% of the second: flat), evaluation against
edit time, and how long the line page, a fact page and the versions API take to answer. With --check, a
full check of production over every applied fact (workers.gpu.check_line in this process): how many of the
facts that took production still says, and how long asking all of them took.
Goals on a 2-core machine: under 60 s approval to production with evaluation no longer than the edit, a
delta under 1% of a checkpoint, pages under 300 ms, a full check of 1,000 facts under 60 s holding >= 90%.
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
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.cli import BenchError, BenchParser
from bench.pipeline_figures import GOAL_DELTA_SHARE, GOAL_SECONDS, PAGE_TRIES, BatchFigures, CheckFigures, Report

CHILD_FLAG = "AMEND_BENCH_PIPELINE_CHILD"
# Records after the edited ones lend their `loc` prompts to the line's own locality probes.
LINE_PROBES = 50
# Options that set a line setting of the same run: argparse dest -> (its flag, the ModelLine field).
LINE_OPTIONS = {
    "recheck": ("--recheck", "recheck_sample_size"),
    "max_reapplications": ("--max-reapplications", "max_reapplications"),
}


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


def time_pages(line: Any, operator: Any) -> dict[str, float]:
    """Median seconds of the line page, a fact page and the versions API, as an operator sees them."""
    import statistics

    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(operator)
    fact = line.facts.order_by("-id").first()
    urls = {
        "line page": reverse("modelline_detail", args=[line.name]),
        "fact page": reverse("fact_detail", args=[fact.pk]),
        "versions API": f"/api/versions/?model_line={line.pk}",
    }
    pages = {}
    for name, url in urls.items():
        seconds = []
        for _ in range(PAGE_TRIES):
            started = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise BenchError(f"{name} answered {response.status_code}")
        pages[name] = statistics.median(seconds[1:])  # the first one warms caches up
    return pages


def full_check(line: Any, operator: Any) -> CheckFigures:
    """Ask production every applied fact of the line, in this process, and time it; sort what it no longer
    says by where each fact stood before the check (already found by the last version's own check and waiting
    for the next batch, or applied: re-applied before or never)."""
    from apps.facts.models import FactState
    from apps.releases import actions
    from workers import gpu

    before = {pk: (state, count) for pk, state, count in line.facts.values_list("pk", "state", "regressions")}
    check = actions.request_full_check(operator, line)
    started = time.perf_counter()
    gpu.check_line(check.pk)
    seconds = time.perf_counter() - started
    check.refresh_from_db()
    if check.state != "done":
        raise BenchError(f"the full check ended {check.state}: {check.error}")
    lost = [before[row["fact_id"]] for row in check.results if not row["still_said"]]
    applied = [count for state, count in lost if state == FactState.APPLIED]
    return CheckFigures(
        check.version.number,
        check.facts_total,
        check.still_said,
        seconds,
        lost_waiting=len(lost) - len(applied),
        lost_reapplied=sum(count > 0 for count in applied),
        lost_never_reapplied=sum(count == 0 for count in applied),
    )


def run_benchmark(
    model_dir: Path,
    data: Path,
    *,
    facts: int,
    batches: int,
    open_gates: bool,
    check: bool,
    log: Callable[[str], object],
    line_settings: dict[str, int] | None = None,
    editor_settings: dict[str, Any] | None = None,
) -> Report:
    """In the throwaway environment: approve ``batches`` batches of ``facts`` facts and time each to production.
    ``line_settings``: the line's own settings the run changes (the self-check's sample, its re-application limit);
    ``editor_settings``: the line's editor settings (an option of the editor measured through the platform)."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError
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
    try:
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
            **(line_settings or {}),
            **({"editor_settings": editor_settings} if editor_settings else {}),
        )
    except ValidationError as exc:
        raise BenchError(f"the line refused its settings: {'; '.join(exc.messages)}") from None
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
                reapplied=len(batch.fact_ids) - len(chunk),
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
    report.pages_s = time_pages(line, operator)
    if check:
        log("full check of production...")
        report.check = full_check(line, operator)
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
    p.add_argument("--check", action="store_true", help="end with a full check of production over every applied fact")
    p.add_argument(
        "--recheck", type=int, default=None, help="the line's recheck_sample_size (default: the line's default)"
    )
    p.add_argument(
        "--max-reapplications",
        type=int,
        default=None,
        help="the line's max_reapplications (default: the line's default)",
    )
    p.add_argument(
        "--set",
        dest="editor_settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an editor setting of the line (its editor_settings), e.g. steps=6; repeatable",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    p.add_argument("--keep", action="store_true", help="keep the temporary database and MLflow store")
    return p


def parse_editor_settings(items: list[str]) -> dict[str, Any]:
    """``--set steps=6 --set mu=5e3`` -> {"steps": 6, "mu": 5000.0}, checked by the editor's own rules;
    BenchError in one line on anything it refuses."""
    from editor import EditorConfig, EditorError

    chosen: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--set {item!r}: expected KEY=VALUE, e.g. steps=6")
        try:
            chosen[key] = json.loads(value)
        except json.JSONDecodeError:
            chosen[key] = value  # a word, e.g. answer_end=period
    try:
        EditorConfig.from_dict(chosen)
    except (EditorError, TypeError) as exc:
        raise BenchError(f"--set: {exc}") from None
    return chosen


def main(argv: list[str]) -> int:
    """``python -m bench pipeline ARGS`` once Django is set up; BenchError on input it cannot run."""
    args = build_parser().parse_args(argv)
    model_dir = Path(args.model or settings.AMEND_BASE_MODEL_DIR).resolve()
    data = Path(args.data or default_data()).resolve()
    if args.facts < 1 or args.batches < 1:
        raise BenchError("--facts and --batches must be at least 1")
    line_settings = {
        field: getattr(args, dest) for dest, (_, field) in LINE_OPTIONS.items() if getattr(args, dest) is not None
    }
    if any(value < 0 for value in line_settings.values()):
        raise BenchError("--recheck and --max-reapplications must be at least 0")
    editor_settings = parse_editor_settings(args.editor_settings)
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
        model_dir,
        data,
        facts=args.facts,
        batches=args.batches,
        open_gates=args.open_gates,
        check=args.check,
        log=print,
        line_settings=line_settings,
        editor_settings=editor_settings,
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
    argv += ["--open-gates"] * args.open_gates + ["--check"] * args.check + ["--json"] * args.json
    for dest, (flag, _) in LINE_OPTIONS.items():
        argv += [flag, str(getattr(args, dest))] if getattr(args, dest) is not None else []
    for item in args.editor_settings:
        argv += ["--set", item]
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

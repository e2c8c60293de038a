"""`manage.py bench_pipeline`: approval-to-production time of a 100-fact batch on the reference model.

Runs the pipeline's own code (workers.pipeline, the promotion action, the alias and checkpoint
tasks) in this process against a throwaway SQLite database, MLflow store and worker cache in a
temporary directory, so it touches nothing of the real deployment. It re-executes itself with
that environment, approves the facts, then times: cut the batch, load the model, materialise the
parent, edit, evaluate, record in MLflow, promote (alias `production` moved), export the full
checkpoint. The first batch is cold (the model is loaded); a second one, when the model's edit
set has enough records, shows a worker that keeps the model in memory. It also reports the bytes
stored per version (delta factors + normaliser state) against a full checkpoint.
Goals on a 2-core machine: under 60 s approval to production, a delta under 1% of a checkpoint.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

CHILD_FLAG = "AMEND_BENCH_PIPELINE_CHILD"
GOAL_SECONDS = 60.0
GOAL_DELTA_SHARE = 0.01


class Command(BaseCommand):
    help = "Time approval to production of a batch on the reference model, stage by stage, and bytes per version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--facts", type=int, default=100, help="facts per batch (default 100)")
        parser.add_argument("--batches", type=int, default=2, help="batches in a row (the first one is cold)")
        parser.add_argument("--model", default="", help="model directory (default $AMEND_REFERENCE_MODEL_DIR)")
        parser.add_argument(
            "--open-gates",
            action="store_true",
            help="gates every version meets (time the promotion whatever the metrics)",
        )
        parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
        parser.add_argument("--keep", action="store_true", help="keep the temporary database and MLflow store")

    def handle(self, *args, facts: int, batches: int, model: str, keep: bool, **options) -> None:
        model_dir = Path(model or settings.AMEND_REFERENCE_MODEL_DIR)
        if facts < 1 or batches < 1:
            raise CommandError("--facts and --batches must be at least 1", returncode=2)
        if not (model_dir / "config.json").exists() or not (model_dir / "edits.jsonl").exists():
            raise CommandError(
                f"no reference model at {model_dir}: build it with "
                f"`python -m workers.editor build-reference-model --out {model_dir}` or pass --model",
                returncode=2,
            )
        if os.environ.get(CHILD_FLAG) != "1":
            self._run_isolated(model_dir, keep)
            return
        from apps.releases.benchmark import run_benchmark

        report = run_benchmark(
            model_dir, facts=facts, batches=batches, open_gates=options["open_gates"], log=self.stdout.write
        )
        self.stdout.write(report.table(GOAL_SECONDS, GOAL_DELTA_SHARE))
        if options["json"]:
            self.stdout.write(report.to_json())

    def _run_isolated(self, model_dir: Path, keep: bool) -> None:
        """Re-run this command with a fresh database, MLflow store and cache in a temporary directory."""
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
            "AMEND_REFERENCE_MODEL_DIR": str(model_dir.resolve()),
        }
        argv = [a for a in sys.argv[1:] if a != "--keep"]
        if "--model" not in argv:
            argv += ["--model", str(model_dir.resolve())]
        try:
            code = subprocess.call([sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *argv], env=env)
        finally:
            if keep:
                self.stdout.write(f"kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
        if code:
            raise CommandError(f"the benchmark failed (exit status {code})", returncode=code)

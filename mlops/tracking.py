"""MLflow: a run and a registered model version per model version, aliases that follow the database.

Every call goes through `with_backoff`: a few quick tries with exponential backoff, then
TrackingUnavailableError, which the Celery task turns into a retry of its own (longer backoff). Nothing
is written to the database before MLflow has the version, so an unreachable server loses nothing.
A run left behind by a worker that died before recording its version is deleted on redelivery,
so each batch ends with exactly one run and one registered version.
"""

import contextlib
import errno
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from django.conf import settings

# Fail fast inside MLflow's own HTTP client: the retry policy is ours (here and in the task).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_TAG = "amend.batch"
VERSION_TAG = "amend.version"
LINE_TAG = "amend.model_line"


class TrackedLine(Protocol):
    """What MLflow needs of a model line (apps.modellines.models.ModelLine is one)."""

    pk: Any
    name: str
    description: str


@dataclass
class TrackedVersion:
    """Where MLflow keeps a version: its run and its registered model version."""

    run_id: str = ""
    model_name: str = ""
    model_version: str = ""


class TrackingUnavailableError(Exception):
    """MLflow could not be reached (or refused) after the in-process retries."""


class TrackingRefusedError(TrackingUnavailableError):
    """MLflow answered with a client error (HTTP 4xx other than 408/429): the same call would be refused
    again, so it is not retried. A subclass so callers that only report MLflow trouble still catch it."""


class StorageFullError(TrackingRefusedError):
    """A disk an MLflow call writes to (the artifact store, or the worker's cache for a download) has no
    space left: trying again at once fails the same way, so it is not retried."""


# What a server or proxy in front of the artifact store says when its disk is full: HTTP 507, or the OS's words.
_STORAGE_WORDS = ("No space left on device", "Disk quota exceeded", "Insufficient Storage")
_STATUS_507 = re.compile(r"\b507\b.{0,40}(Server Error|Insufficient)|error code 507\b", re.IGNORECASE)


def storage_full(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, says a disk or quota is full (locally: ENOSPC or
    EDQUOT; from a tracking server or a proxy: HTTP 507, or the same words in its error page)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(getattr(exc, "response", None), "status_code", None) == 507:
            return True
        text = str(exc)
        if any(words in text for words in _STORAGE_WORDS) or _STATUS_507.search(text):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# Client errors that do get better with time: a timeout and "slow down".
_RETRYABLE_4XX = {408, 429}


def _client_error(exc: Exception) -> int | None:
    """The HTTP 4xx status MLflow answered with, if that is what `exc` is."""
    if getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS":
        return None  # another worker created it at the same moment: the next try finds it
    status = getattr(exc, "get_http_status_code", lambda: None)()
    if status is None:
        # A non-JSON error page: MLflow says "... failed with error code 403 != 200".
        match = re.search(r"error code (\d{3}) != 200", str(exc))
        status = int(match.group(1)) if match else None
    return status if status is not None and 400 <= status < 500 and status not in _RETRYABLE_4XX else None


def with_backoff(what: str, call: Callable[[], T], *, attempts: int | None = None, base: float | None = None) -> T:
    """Run an MLflow call, retrying with exponential backoff (base, 2*base, 4*base, ...)."""
    attempts = attempts or settings.AMEND_MLFLOW_ATTEMPTS
    base = base if base is not None else settings.AMEND_MLFLOW_BACKOFF_SECONDS
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if storage_full(exc):
                raise StorageFullError(f"out of disk space during the MLflow {what}: {_first_line(exc)}") from exc
            refused = _client_error(exc)
            if refused is not None:
                raise TrackingRefusedError(f"MLflow refused the {what} (HTTP {refused}): {_first_line(exc)}") from exc
            if attempt == attempts - 1:
                detail = _first_line(exc)
                raise TrackingUnavailableError(f"MLflow {what} failed after {attempts} tries: {detail}") from exc
            delay = base * 2**attempt
            log.warning("MLflow %s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def client() -> Any:
    from mlflow.tracking import MlflowClient

    uri = settings.MLFLOW_TRACKING_URI
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def registered_model_name(line: TrackedLine) -> str:
    return f"amend-{line.name}"


def _local_store() -> bool:
    return not settings.MLFLOW_TRACKING_URI.startswith(("http://", "https://", "databricks"))


def local_artifact_location(name: str) -> str | None:
    """A local store keeps an experiment's artifacts under MLFLOW_ARTIFACT_ROOT/name; a server decides itself."""
    return Path(settings.MLFLOW_ARTIFACT_ROOT, name).resolve().as_uri() if _local_store() else None


def experiment_id(mlflow: Any, line: TrackedLine) -> str:
    name = f"amend/{line.name}"
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            mlflow.restore_experiment(found.experiment_id)
        return found.experiment_id
    location = local_artifact_location(line.name)
    return mlflow.create_experiment(name, artifact_location=location, tags={LINE_TAG: str(line.pk)})


def _ensure_registered_model(mlflow: Any, name: str, line: TrackedLine) -> None:
    from mlflow.exceptions import MlflowException

    try:
        mlflow.get_registered_model(name)
    except MlflowException:
        mlflow.create_registered_model(name, tags={LINE_TAG: str(line.pk)}, description=line.description[:500])


def _discard_run(mlflow: Any, model_name: str, run_id: str) -> None:
    """Delete a run, its artifacts and the registered versions made from it.

    MLflow's delete_run only marks the run deleted (its record goes with `mlflow gc`); its artifacts are removed
    here at once, so a half-written run frees the disk it took (the full disk's own runs above all)."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    for mv in mlflow.search_model_versions(f"run_id = '{run_id}'"):
        mlflow.delete_model_version(model_name, mv.version)
    with contextlib.suppress(Exception):  # a store that cannot delete artifacts still gets the run deleted
        get_artifact_repository(mlflow.get_run(run_id).info.artifact_uri).delete_artifacts()
    mlflow.delete_run(run_id)


def forget_orphans(line: TrackedLine, batch_key: str, keep_run_id: str = "") -> int:
    """Delete runs (and their registered versions) of a batch that never reached the database."""

    def run() -> int:
        mlflow = client()
        exp = mlflow.get_experiment_by_name(f"amend/{line.name}")
        if exp is None:
            return 0
        orphans = mlflow.search_runs([exp.experiment_id], filter_string=f"tags.`{BATCH_TAG}` = '{batch_key}'")
        name = registered_model_name(line)
        removed = 0
        for orphan in orphans:
            if orphan.info.run_id == keep_run_id:
                continue
            _discard_run(mlflow, name, orphan.info.run_id)
            removed += 1
        return removed

    return with_backoff("cleanup of orphan runs", run)


def log_version(
    line: TrackedLine,
    *,
    batch_key: str,
    number: int,
    parent_number: int | None,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifacts_dir: Path | None,
    report: dict[str, Any],
    content_hash: str,
    fact_count: int,
    serving: dict[str, Any] | None = None,
) -> TrackedVersion:
    """One run with params, metrics and artifacts, and the registered model version for it.

    With `serving` (lineage.serving_manifest) the registered version is a pyfunc model under model/
    (mlops/serving.py) that rebuilds this version; without it, the run's artifacts."""
    forget_orphans(line, batch_key)

    def run() -> TrackedVersion:
        mlflow = client()
        exp = experiment_id(mlflow, line)
        tags = {BATCH_TAG: batch_key, VERSION_TAG: str(number), LINE_TAG: line.name}
        created = mlflow.create_run(exp, tags=tags, run_name=f"{line.name} v{number}")
        run_id = created.info.run_id
        started.append(run_id)
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        mlflow.log_batch(
            run_id,
            metrics=[Metric(key, float(value), now, 0) for key, value in sorted(metrics.items())],
            params=[Param(key, str(value)[:6000]) for key, value in sorted(params.items())],
        )
        if artifacts_dir is not None:
            mlflow.log_artifacts(run_id, str(artifacts_dir))
        mlflow.log_dict(run_id, report, "evaluation_report.json")
        source = created.info.artifact_uri
        if serving is not None:
            manifest = {**serving, "content_hash": content_hash, "label": f"{line.name} v{number}"}
            _log_serving_model(mlflow, run_id, manifest)
            source = f"{source}/model"
        name = registered_model_name(line)
        _ensure_registered_model(mlflow, name, line)
        mv = mlflow.create_model_version(
            name,
            source=source,
            run_id=run_id,
            tags={
                "batch": batch_key,
                "parent_version": "" if parent_number is None else str(parent_number),
                "content_hash": content_hash,
                "fact_count": str(fact_count),
                "amend_version": str(number),
            },
            description=f"{line.name} v{number}",
        )
        mlflow.set_terminated(run_id, "FINISHED")
        return TrackedVersion(run_id=run_id, model_name=name, model_version=str(mv.version))

    started: list[str] = []

    def run_or_discard() -> TrackedVersion:
        try:
            return run()
        except Exception:
            # A run half recorded (MLflow failed after creating it) must not stay beside the one the next try
            # creates: each version ends with exactly one run. Best effort; a redelivery's forget_orphans
            # removes what this could not.
            while started:
                with contextlib.suppress(Exception):
                    _discard_run(client(), registered_model_name(line), started.pop())
            raise

    return with_backoff("logging of the version", run_or_discard)


def _log_serving_model(mlflow: Any, run_id: str, manifest: dict[str, Any]) -> None:
    """The version's pyfunc model into the run, under model/; paths in the manifest that are not
    runs:/ URIs are this run's own artifacts."""
    from mlops.serving import save_version_model

    def resolve(path: str) -> str:
        return path if path.startswith("runs:/") else f"runs:/{run_id}/{path}"

    manifest = {**manifest, "deltas": [resolve(uri) for uri in manifest["deltas"]]}
    if manifest.get("snapshot"):
        manifest["snapshot"] = {**manifest["snapshot"], "uri": resolve(manifest["snapshot"]["uri"])}
    with tempfile.TemporaryDirectory() as scratch:
        save_version_model(Path(scratch) / "model", manifest)
        mlflow.log_artifacts(run_id, str(Path(scratch) / "model"), "model")


def set_aliases(model_name: str, production: str, previous: str | None) -> None:
    """Point `production` (and `previous`) at registered versions; no `previous` removes that alias."""

    def run() -> None:
        mlflow = client()
        mlflow.set_registered_model_alias(model_name, "production", production)
        if previous:
            mlflow.set_registered_model_alias(model_name, "previous", previous)
        else:
            from mlflow.exceptions import MlflowException

            with contextlib.suppress(MlflowException):
                mlflow.delete_registered_model_alias(model_name, "previous")

    with_backoff("alias update", run)


def log_checkpoint(run_id: str, directory: Path) -> str:
    """Upload a full Hugging Face checkpoint directory into the run, under checkpoint/."""

    def run() -> str:
        mlflow = client()
        mlflow.log_artifacts(run_id, str(directory), "checkpoint")
        return f"{mlflow.get_run(run_id).info.artifact_uri}/checkpoint"

    return with_backoff("checkpoint upload", run)


def log_report(run_id: str, name: str, report: dict[str, Any]) -> str:
    """Store a JSON report in a version's run, under reports/<name>; returns its runs:/ URI."""

    def run() -> str:
        client().log_dict(run_id, report, f"reports/{name}")
        return f"runs:/{run_id}/reports/{name}"

    return with_backoff("report upload", run)


def fetch_artifact(uri: str, cache_dir: Path) -> Path:
    """A local copy of `runs:/<run>/<path>`: from the worker's cache, else downloaded from MLflow."""
    if not uri.startswith("runs:/"):
        return Path(uri)
    run_id, _, relative = uri.removeprefix("runs:/").partition("/")
    local = cache_dir / run_id / relative
    if local.exists():
        return local

    def run() -> Path:
        from mlflow.artifacts import download_artifacts

        staging = cache_dir / run_id / ".download"
        staging.mkdir(parents=True, exist_ok=True)
        path = Path(
            download_artifacts(artifact_uri=uri, dst_path=str(staging), tracking_uri=settings.MLFLOW_TRACKING_URI)
        )
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), local)
        return local

    return with_backoff("artifact download", run)

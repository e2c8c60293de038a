"""Tasks on the `default` queue: cut due batches (beat), promote, move MLflow aliases, checkpoint the audit trail."""

import logging

from celery import shared_task
from django.conf import settings

from apps.audit.checkpoints import CheckpointError
from apps.audit.signer import BrokenTrailError, write_checkpoint
from apps.outbox import tasks
from apps.outbox.send import publish_pending
from apps.releases import actions
from apps.releases.models import ModelVersion, Promotion, PromotionKind
from apps.releases.queries import production_version
from mlops import tracking
from workers.gpu import retry_countdown

log = logging.getLogger(__name__)


@shared_task(name=tasks.CUT_DUE_BATCHES.name)
def cut_due_batches() -> list[int]:
    """Beat: every model line with `batch_size` approved facts, or whose oldest waited `max_wait`."""
    return [batch.pk for batch in actions.cut_due_batches()]


@shared_task(name=tasks.SCHEDULE_FULL_CHECKS.name)
def schedule_full_checks() -> list[int]:
    """Beat: a full check of every line whose `full_check_interval` has passed since its last one."""
    return [check.pk for check in actions.schedule_due_checks()]


@shared_task(name=tasks.SWEEP_STALLED_CHECKS.name)
def sweep_stalled_checks() -> list[int]:
    """Beat: fail every running full check with no progress for AMEND_CHECK_STALL_SECONDS (its worker stopped)."""
    return [check.pk for check in actions.sweep_stalled_checks()]


@shared_task(name=tasks.PROMOTE_VERSION.name)
def promote_version(version_id: int) -> dict:
    """Promote a candidate that met every gate (a no-op if an operator acted on it meanwhile)."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        return {"version": version_id, "skipped": "no such version"}
    promotion = actions.promote(None, version, automatic=True)
    return {"version": version.number, "promoted": promotion is not None}


@shared_task(bind=True, name=tasks.SYNC_ALIASES.name, max_retries=None, acks_late=True)
def sync_aliases(self, model_line_id: int) -> dict:
    """Make MLflow's `production` and `previous` aliases say what the database says, retrying with backoff."""
    production = production_version(model_line_id)
    if production is None or not production.mlflow_model_version:
        return {"model_line": model_line_id, "skipped": True}
    last = (
        Promotion.objects.filter(model_line_id=model_line_id, version=production)
        .exclude(kind=PromotionKind.HOLD)
        .select_related("previous")
        .first()
    )
    previous = last.previous.mlflow_model_version if last and last.previous_id else None
    try:
        tracking.set_aliases(production.mlflow_model_name, production.mlflow_model_version, previous)
    except tracking.TrackingRefusedError as exc:
        # MLflow answered no (4xx): asking again cannot help. The promotion stays `aliases_synced: false`
        # (API) until an operator fixes MLflow's side and the next promotion or rollback syncs them.
        log.error("MLflow aliases of line %s not synced: %s", model_line_id, exc)
        return {"model_line": model_line_id, "refused": str(exc)}
    except tracking.TrackingUnavailableError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries + 1)) from exc
    actions.mark_aliases_synced(model_line_id)
    return {"production": production.mlflow_model_version, "previous": previous}


@shared_task(bind=True, name=tasks.CHECKPOINT_AUDIT.name, max_retries=5, acks_late=True)
def checkpoint_audit(self) -> dict:
    """Beat, and after every promotion: sign the audit chain's head and write it outside the database."""
    if not settings.AMEND_AUDIT_SIGNING_KEY:
        log.warning("no AMEND_AUDIT_SIGNING_KEY here: audit checkpoint skipped")
        return {"skipped": "no signing key"}
    try:
        checkpoint, written = write_checkpoint()
    except BrokenTrailError as exc:
        return {"refused": str(exc)}  # logged and in the trail already; signing again cannot mend it
    except CheckpointError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries + 1)) from exc
    return {"sequence": checkpoint.sequence, "last_event_id": checkpoint.last_event_id, "written": written}


@shared_task(name=tasks.DISPATCH_OUTBOX.name)
def dispatch_outbox() -> dict:
    """Beat: publish every task still waiting for the broker, then rescue batches no worker took."""
    sent = publish_pending()
    return {"sent": sent, "swept": actions.sweep_stranded_batches()}

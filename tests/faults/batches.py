"""What the fault tests ask of a batch: release one, read its facts' states and the line's MLflow runs."""

from apps.facts.models import FactEdit
from apps.releases import actions
from apps.releases.models import Batch
from tests.fixtures.pipeline import purge_queues


def released(line, approve, operator, count: int = 4) -> tuple[Batch, list[int]]:
    """`count` approved facts (approve: the approve_edits fixture) released as one batch before any worker
    runs; the fact pages' probe tasks are dropped (they would ask MLflow too; these tests are about the batch)."""
    facts = approve(line, 0, count)
    purge_queues()
    return actions.release_now(operator, line), [fact.pk for fact in facts]


def states(fact_ids: list[int]) -> set[str]:
    return set(FactEdit.objects.filter(pk__in=fact_ids).values_list("state", flat=True))


def active_runs(store, line) -> list:
    """The line's MLflow runs that are not deleted (store: the mlflow_store fixture)."""
    client = store.client()
    experiment = client.get_experiment_by_name(f"amend/{line.name}")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def deleted_runs(store, line) -> list:
    """The line's MLflow runs marked deleted (discarded tries)."""
    from mlflow.entities import ViewType

    client = store.client()
    experiment = client.get_experiment_by_name(f"amend/{line.name}")
    return client.search_runs([experiment.experiment_id], run_view_type=ViewType.DELETED_ONLY) if experiment else []

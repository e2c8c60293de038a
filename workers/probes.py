"""Tasks on the `default` queue for probes: ask production what it answers to a submitted fact.

Sent through the outbox by the submission itself (apps.facts.actions.content): the facts app sits
below the releases app and never imports it, so the submission names this task and the probes are
written here, by the release action, once the submission has committed.
"""

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.facts.models import FactEdit
from apps.outbox import tasks
from apps.releases import actions


@shared_task(name=tasks.ASK_PRODUCTION.name)
def ask_production(fact_id: int, actor_id: int | None) -> dict:
    """Send the fact's probes to production (cached answers are not asked again), as its submitter asked."""
    fact = FactEdit.objects.filter(pk=fact_id).first()
    if fact is None:
        return {"fact": fact_id, "skipped": "no such fact"}
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id is not None else None
    probes = actions.request_fact_probes(actor, fact)
    return {"fact": fact_id, "probes": [probe.pk for probe in probes]}

"""Tasks on the `default` queue for probes: ask production what it answers to a submitted fact, and to a
change set's sample once it is in review.

Sent through the outbox by the submission itself (apps.facts.actions.content): the facts app sits
below the releases app and never imports it, so the submission names this task and the probes are
written here, by the release action, once the submission has committed.
"""

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.facts.changesets.queries import sample_ids
from apps.facts.models import ChangeSet, FactEdit
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


@shared_task(name=tasks.ASK_CHANGE_SET_SAMPLE.name)
def ask_change_set_sample(change_set_id: int) -> dict:
    """Ask production the prompts of the change set's current sample (one batched task on the gpu queue)."""
    change_set = ChangeSet.objects.select_related("model_line").filter(pk=change_set_id).first()
    if change_set is None:
        return {"change_set": change_set_id, "skipped": "no such change set"}
    prompts = list(FactEdit.objects.filter(pk__in=sample_ids(change_set)).values_list("prompt", flat=True))
    probes = actions.request_sample_probes(change_set.pk, change_set.model_line_id, prompts)
    return {"change_set": change_set_id, "probes": [probe.pk for probe in probes]}

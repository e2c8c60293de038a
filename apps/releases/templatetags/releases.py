from django import template

from apps.facts.models import ChangeSet, FactEdit
from apps.modellines.models import ModelLine
from apps.releases.answers import fact_answers
from apps.releases.change_sets import ChangeSetOutcome, change_set_outcome
from apps.releases.models import Batch, BatchState
from apps.releases.progress import Progress, batch_progress
from apps.releases.queries import self_check
from apps.releases.timeline import line_timeline

register = template.Library()


@register.simple_tag
def timeline_for(line: ModelLine) -> dict:
    """{% timeline_for line as timeline %}: versions, chart, promotions and batches of a model line."""
    return line_timeline(line)


@register.filter
def percent(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else "—"


@register.filter
def signed_percent(value: object) -> str:
    return f"{float(value) * 100:+.1f}%" if isinstance(value, int | float) else "—"


@register.filter
def kib(value: object) -> str:
    if not isinstance(value, int | float):
        return "—"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{int(value)} B"


@register.inclusion_tag("releases/_production_answers.html")
def production_answers(fact: FactEdit) -> dict:
    """{% production_answers fact %}: production's answers to the fact's prompts beside its target."""
    return {"fact": fact, "answers": fact_answers(fact)}


@register.simple_tag
def fact_progress(fact: FactEdit) -> Progress | None:
    """{% fact_progress fact as progress %}: the progress of the running batch that holds the fact, if any."""
    running = Batch.objects.filter(model_line_id=fact.model_line_id, state=BatchState.PENDING)
    batch = next((b for b in running.order_by("id") if fact.pk in b.fact_ids), None)
    return batch_progress(batch) if batch else None


@register.inclusion_tag("releases/_self_check.html", takes_context=True)
def self_check_of(context: template.Context, line: ModelLine) -> dict:
    """{% self_check_of line %}: the line's regressed facts and its latest full check of production."""
    return {"line": line, "roles": context.get("roles"), "csrf_token": context.get("csrf_token"), **self_check(line)}


@register.simple_tag(name="change_set_outcome")
def change_set_outcome_tag(change_set: ChangeSet) -> ChangeSetOutcome:
    """{% change_set_outcome change_set as outcome %}: the batches, versions and results of an approved set."""
    return change_set_outcome(change_set)

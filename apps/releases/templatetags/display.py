"""{% load display %}: the one way pages format metrics and name states, actions and objects
(the words live in apps.releases.wording, apps.facts.states and apps.audit.wording; the rule
"did this edit take" in apps.facts.outcomes)."""

from typing import Any

from django import template

import editor.metrics as names
from apps.audit import wording as audit_wording
from apps.facts import outcomes
from apps.facts.states import CHANGE_SET_STATES, FACT_STATES, IMPORT_CHANNELS
from apps.releases import wording

register = template.Library()


@register.filter
def metric(value: Any, name: str = names.GENERATION_EFFICACY) -> str:
    """{{ value|metric:"perplexity_drift" }} -> "+10.0%"."""
    return wording.format_metric(value, name)


@register.filter
def metric_of(metrics: dict | None, name: str) -> str:
    """{{ version.metrics|metric_of:"efficacy" }} -> "50.0%" (— when not measured)."""
    return wording.format_metric((metrics or {}).get(name), name)


@register.filter
def said_metrics(metrics: dict | None) -> list[tuple[str, Any]]:
    """What the model says, locality and fluency, in order; token accuracies left to `token_metrics`."""
    return [(name, value) for name, value in wording.ordered_metrics(metrics) if name not in wording.TOKEN_METRICS]


@register.filter
def token_metrics(metrics: dict | None) -> list[tuple[str, Any]]:
    return [(name, value) for name, value in wording.ordered_metrics(metrics) if name in wording.TOKEN_METRICS]


@register.filter
def duration(value: Any) -> str:
    """{{ progress.elapsed|duration }} -> "2 min 40 s"."""
    return wording.format_duration(value)


@register.filter
def metric_label(name: str) -> str:
    return wording.metric_label(name)


@register.filter
def version_state(state: str) -> str:
    return wording.VERSION_STATES.get(state, (state, ""))[0]


@register.filter
def version_state_help(state: str) -> str:
    return wording.VERSION_STATES.get(state, ("", ""))[1]


@register.simple_tag
def batch_badge(batch: Any, version: Any = None) -> dict[str, str]:
    """{% batch_badge batch version as badge %}: {"state": style, "label": words} of what became of it."""
    state, label = wording.batch_outcome(batch, version.state if version else None)
    return {"state": state, "label": label}


@register.filter
def fact_state(state: str) -> str:
    return FACT_STATES.get(state, state)


@register.filter
def change_set_state(state: str) -> str:
    return CHANGE_SET_STATES.get(state, state)


@register.filter
def import_channel(value: str) -> str:
    return IMPORT_CHANNELS.get(value, value)


@register.filter
def trigger(value: str) -> str:
    return wording.TRIGGERS.get(value, value)


@register.filter
def action_label(action: str) -> str:
    return audit_wording.action_label(action)


@register.filter
def object_label(event: Any) -> str:
    """{{ event|object_label }} -> "fact #11", "v2", "batch #3"."""
    return audit_wording.object_label(event.object_type, event.object_id, event.after)


@register.simple_tag
def fact_outcome(fact: Any, results: dict | None = None) -> outcomes.Outcome:
    """{% fact_outcome fact results as outcome %}: the fact's state as a person should read it."""
    return outcomes.outcome(fact, results)

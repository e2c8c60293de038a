"""What production answers to a fact's prompt and paraphrases, as reviewers see it beside the target.

Reads only: the probes sent for the submission (it asks through the outbox; workers.probes calls
apps.releases.actions.probes.request_fact_probes once it committed) are cached with the version they
asked, so a page shows production's answers when it has them and otherwise the newest answers of an
earlier version, named as such.
"""

from dataclasses import dataclass, field

from apps.facts.models import FactEdit, FactState
from apps.outbox import tasks
from apps.outbox.models import OutboxMessage, OutboxState
from apps.releases.actions.probes import FACT_PROBE_TOKENS, fact_prompts
from apps.releases.models import ModelVersion, Probe, ProbeState, VersionState
from apps.releases.queries import production_version


@dataclass(frozen=True)
class Asked:
    prompt: str
    is_paraphrase: bool
    probe: Probe | None  # None: not asked (yet)

    @property
    def pending(self) -> bool:
        return self.probe is not None and self.probe.state == ProbeState.PENDING

    @property
    def of_production(self) -> bool:
        return self.probe is not None and self.probe.version.state == VersionState.PRODUCTION


@dataclass
class FactAnswers:
    production: ModelVersion | None
    # A submitted fact on a line with no version yet: a GPU worker records the base, then asks it.
    waiting_for_base: bool
    # Submitted, and the submission's question to production not written yet (its task is on its way).
    asking: bool = False
    rows: list[Asked] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        """Still asking: a probe without its answer, or the line's base not recorded yet."""
        return self.waiting_for_base or self.asking or any(row.pending for row in self.rows)

    @property
    def older_versions(self) -> list[str]:
        """Labels of earlier versions some shown answers come from (production moved on since)."""
        labels = {row.probe.version.label for row in self.rows if row.probe is not None and not row.of_production}
        return sorted(labels)


# A fact production is worth asking about: sent for review and beyond (a draft is nobody's question yet).
_ASKED_STATES = set(FactState.values) - {FactState.DRAFT}


def fact_answers(fact: FactEdit) -> FactAnswers | None:
    """The latest answers to the fact's prompts, production's first; None for a draft. Two queries (a third
    while the submission's question to production is on its way)."""
    if fact.state not in _ASKED_STATES:
        return None
    production = production_version(fact.model_line_id)
    prompts = fact_prompts(fact)
    probes = Probe.objects.filter(
        model_line_id=fact.model_line_id, prompt__in=prompts, max_new_tokens=FACT_PROBE_TOKENS
    ).select_related("version")
    production_id = production.pk if production else None

    def rank(probe: Probe) -> tuple[bool, bool, int]:
        # Production's answer first, an answer before a failure, the newest last asked.
        return (probe.version_id == production_id, probe.state != ProbeState.FAILED, probe.pk)

    chosen: dict[str, Probe] = {}
    for probe in probes:
        if probe.prompt not in chosen or rank(probe) > rank(chosen[probe.prompt]):
            chosen[probe.prompt] = probe
    rows = [Asked(prompt, index > 0, chosen.get(prompt)) for index, prompt in enumerate(prompts)]
    waiting = production is None and fact.state == FactState.SUBMITTED
    if waiting and ModelVersion.objects.filter(model_line_id=fact.model_line_id).exists():
        waiting = False  # versions but none in production: nothing to ask, nothing coming
    asking = production is not None and fact.state == FactState.SUBMITTED and not chosen and _ask_sent(fact)
    return FactAnswers(production=production, waiting_for_base=waiting, asking=asking, rows=rows)


def _ask_sent(fact: FactEdit) -> bool:
    """The submission wrote its task to ask production (apps.facts.actions.content), not cancelled."""
    return (
        OutboxMessage.objects.filter(subject=f"fact:{fact.pk}", task=tasks.ASK_PRODUCTION.name)
        .exclude(state=OutboxState.CANCELLED)
        .exists()
    )


def production_answers(model_line_id: int, prompts: list[str], **signal: object) -> dict[str, str | None]:
    """Answers of the line's production version to these prompts, from probes already answered; None for a
    prompt it is still being asked (the change set's sample asks through
    apps.facts.changesets.queries.production_answers_wanted)."""
    production = production_version(model_line_id)
    if production is None:
        return {}
    probes = Probe.objects.filter(
        version=production, state__in=[ProbeState.DONE, ProbeState.PENDING], prompt__in=prompts
    ).order_by("state", "id")  # "done" sorts before "pending": an answer wins over a question still open
    answers: dict[str, str | None] = {}
    for probe in probes:
        answers.setdefault(probe.prompt, probe.answer if probe.state == ProbeState.DONE else None)
    return answers

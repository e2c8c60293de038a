"""Probes: a member asks a version a prompt; a GPU worker writes its greedy answer.

A submitted fact is probed too: production is asked its prompt and each paraphrase, so reviewers
see what the model answers today beside the proposed target. Answers are cached with the version
they were asked of (one version, one prompt, one greedy answer), so a prompt is asked once per version.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import roles_of
from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import enqueue
from apps.releases.actions.common import User
from apps.releases.models import MAX_NEW_TOKENS, MAX_PROBE_PROMPT, ModelVersion, Probe, ProbeState, VersionState
from apps.releases.queries import production_version

# Tokens of a fact probe's answer: enough to read the model's claim ("Paris, the city of light"), few
# enough that a submission's probes cost the GPU worker well under a second.
FACT_PROBE_TOKENS = 12


@transaction.atomic(durable=True)
def request_probe(actor: User, version: ModelVersion, prompt: str, max_new_tokens: int = 16) -> Probe:
    """Ask a version a prompt; a GPU worker writes its greedy answer."""
    return _request_probe(actor, version, prompt, max_new_tokens)


def _request_probe(actor: User, version: ModelVersion, prompt: str, max_new_tokens: int = 16) -> Probe:
    prompt = _checked_request(actor, prompt, max_new_tokens)
    if version.state == VersionState.FAILED:
        raise TransitionError(f"{version.label} failed and cannot be probed")
    probe = Probe.objects.create(
        model_line_id=version.model_line_id,
        version=version,
        prompt=prompt,
        max_new_tokens=int(max_new_tokens),
        requested_by=actor,
    )
    record_event(
        actor,
        "probe.requested",
        probe,
        after={"version": version.number, "prompt": prompt},
        model_line_id=version.model_line_id,
    )
    enqueue(tasks.ANSWER_PROBE, probe.pk)
    return probe


def _checked_request(actor: User | None, prompt: str, max_new_tokens: int) -> str:
    """Who may probe (every role: curator, reviewer, operator, auditor) and what; returns the trimmed prompt."""
    if not roles_of(actor):
        raise PermissionDenied("only a member of Amend may probe a model")
    prompt = (prompt or "").strip()
    if not prompt:
        raise ValidationError({"prompt": "write the prompt to ask the model"})
    if len(prompt) > MAX_PROBE_PROMPT:
        raise ValidationError({"prompt": f"at most {MAX_PROBE_PROMPT} characters"})
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise ValidationError({"max_new_tokens": f"between 1 and {MAX_NEW_TOKENS}"})
    return prompt


@transaction.atomic(durable=True)
def request_line_probe(actor: User, line: ModelLine, prompt: str, max_new_tokens: int = 16) -> Probe | None:
    """Ask a line's production version a prompt. A line with no version yet gets its base (v0) recorded
    first by a GPU worker, which then asks it (workers.gpu.probe_line): returns None then, the probe
    appears on the line once v0 exists. Refused (409) when versions exist but none is in production."""
    prompt = _checked_request(actor, prompt, max_new_tokens)
    version = production_version(line.pk)
    if version is not None:
        return _request_probe(actor, version, prompt, max_new_tokens)
    if ModelVersion.objects.filter(model_line=line).exists():
        raise TransitionError(f"no version of {line.name} is in production yet; probe one of its versions")
    record_event(
        actor,
        "probe.requested",
        line,
        after={"version": None, "prompt": prompt, "waits_for": "v0 (the base model), recorded first"},
        model_line_id=line.pk,
    )
    enqueue(tasks.PROBE_LINE, line.pk, prompt, int(max_new_tokens), actor.pk)
    return None


def fact_prompts(fact: FactEdit) -> list[str]:
    """What a fact asks the model: its prompt, then each paraphrase (each once, in order)."""
    return list(dict.fromkeys(p.strip()[:MAX_PROBE_PROMPT] for p in [fact.prompt, *fact.paraphrases] if p.strip()))


@transaction.atomic(durable=True)
def request_fact_probes(actor: User | None, fact: FactEdit) -> list[Probe]:
    """Ask production a submitted fact's prompt and paraphrases (called by the submission itself).

    Prompts production already answered, or is answering, are not asked again. A line without a
    version yet gets its base recorded first by a GPU worker, which then asks it (workers.gpu.probe_base).
    Returns the probes created now (none when every answer is cached or the base comes first).
    """
    version = production_version(fact.model_line_id)
    if version is None:
        # Only a line with no version at all gets its base recorded (never a loop of base requests).
        if not ModelVersion.objects.filter(model_line_id=fact.model_line_id).exists():
            enqueue(tasks.PROBE_BASE, fact.pk)
        return []
    return _ask(actor, version, fact_prompts(fact), {"fact": fact.pk})


@transaction.atomic(durable=True)
def request_sample_probes(change_set_id: int, model_line_id: int, prompts: list[str]) -> list[Probe]:
    """Ask production the prompts of a change set's sample (once its import finished), so its reviewers see
    what the model answers today beside each row's target. Nothing is asked of a line with no production."""
    version = production_version(model_line_id)
    if version is None or not prompts:
        return []
    return _ask(None, version, [prompt.strip()[:MAX_PROBE_PROMPT] for prompt in prompts], {"change_set": change_set_id})


def _ask(actor: User | None, version: ModelVersion, prompts: list[str], about: dict) -> list[Probe]:
    """Probes of `version` for the prompts it has not answered (or is answering) yet: one audit event and
    one task for them all, which the worker answers in one batched greedy decode."""
    cached = set(
        Probe.objects.filter(
            version=version,
            prompt__in=prompts,
            max_new_tokens=FACT_PROBE_TOKENS,
            state__in=[ProbeState.PENDING, ProbeState.DONE],
        ).values_list("prompt", flat=True)
    )
    wanted = [prompt for prompt in dict.fromkeys(prompts) if prompt not in cached]
    if not wanted:
        return []
    requester = actor if actor is not None and actor.is_authenticated else None
    probes = Probe.objects.bulk_create(
        Probe(
            model_line_id=version.model_line_id,
            version=version,
            prompt=prompt,
            max_new_tokens=FACT_PROBE_TOKENS,
            requested_by=requester,
        )
        for prompt in wanted
    )
    # One event for them all: what asked them (the submission, the import) is its own event.
    record_event(
        actor,
        "probe.requested",
        probes[0],
        after={"version": version.number, "prompts": wanted, "probes": [p.pk for p in probes], **about},
        model_line_id=version.model_line_id,
    )
    enqueue(tasks.ANSWER_PROBE, *(p.pk for p in probes))
    return probes


@transaction.atomic(durable=True)
def finish_probe(probe: Probe, *, answer: str = "", error: str = "") -> Probe:
    """A worker writes the probe's answer, or why it could not answer (then the probe failed)."""
    Probe.objects.select_for_update().filter(pk=probe.pk).get()  # one worker writes at a time
    probe.answer, probe.error = answer, error
    probe.state = ProbeState.FAILED if error else ProbeState.DONE
    probe.answered_at = timezone.now()
    probe.save(update_fields=["answer", "error", "state", "answered_at"])
    record_event(
        None,
        "probe.failed" if error else "probe.answered",
        probe,
        after={"state": probe.state, "answer": answer, "error": error},
        model_line_id=probe.model_line_id,
    )
    return probe

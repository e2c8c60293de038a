"""Probes: a member asks a version a prompt; a GPU worker writes its greedy answer."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from amend.errors import TransitionError
from apps.accounts.roles import roles_of
from apps.audit.record import record_event
from apps.releases.actions.common import User, dispatch
from apps.releases.models import MAX_NEW_TOKENS, MAX_PROBE_PROMPT, ModelVersion, Probe, ProbeState, VersionState


@transaction.atomic
def request_probe(actor: User, version: ModelVersion, prompt: str, max_new_tokens: int = 16) -> Probe:
    """Ask a version a prompt; a GPU worker writes its greedy answer."""
    if not roles_of(actor):
        raise PermissionDenied("only a member of Amend may probe a model")
    prompt = (prompt or "").strip()
    if not prompt:
        raise ValidationError({"prompt": "write the prompt to ask the model"})
    if len(prompt) > MAX_PROBE_PROMPT:
        raise ValidationError({"prompt": f"at most {MAX_PROBE_PROMPT} characters"})
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise ValidationError({"max_new_tokens": f"between 1 and {MAX_NEW_TOKENS}"})
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
    dispatch("workers.gpu.answer_probe", probe.pk)
    return probe


@transaction.atomic
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

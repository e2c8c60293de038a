"""Input rules of a fact, shared by the API, the web forms, the importer and the service functions.

The text rules themselves (NFC, control and format characters, lengths, locality probes) are every
app's: apps.core.text. A violation raises Django's ValidationError keyed by the field (HTTP 400).
"""

from typing import Any

from django.core.exceptions import ValidationError

from apps.core.text import MAX_PROMPT, MAX_TARGET, clean_locality_probes, clean_text
from apps.facts.conflicts import normalize_prompt

MAX_PARAPHRASES = 20
MAX_SUBJECT = 300
MAX_RATIONALE = 5000
MAX_SOURCE = 1000


def clean_paraphrases(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValidationError({"paraphrases": "must be a list of texts"})
    if len(value) > MAX_PARAPHRASES:
        raise ValidationError({"paraphrases": f"at most {MAX_PARAPHRASES} paraphrases"})
    cleaned = []
    for index, item in enumerate(value):
        try:
            text = clean_text("paraphrases", item, max_length=MAX_PROMPT, model_text=True)
        except ValidationError as error:
            raise ValidationError(
                {"paraphrases": f"item {index + 1}: {error.message_dict['paraphrases'][0]}"}
            ) from None
        if text not in cleaned:
            cleaned.append(text)
    return cleaned


def clean_fact_fields(fields: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Clean every fact field present; with partial=False the required ones must be present.

    All field errors are collected, so one response names every bad field.
    """
    rules = {
        "prompt": lambda v: clean_text("prompt", v, max_length=MAX_PROMPT, model_text=True),
        "target": lambda v: clean_text("target", v, max_length=MAX_TARGET, model_text=True),
        "paraphrases": clean_paraphrases,
        "locality_probes": clean_locality_probes,
        "subject": lambda v: clean_text("subject", v, max_length=MAX_SUBJECT, required=False, model_text=True),
        "rationale": lambda v: clean_text("rationale", v, max_length=MAX_RATIONALE, multiline=True),
        "source": lambda v: clean_text("source", v, max_length=MAX_SOURCE),
    }
    unknown = set(fields) - set(rules)
    if unknown:
        raise ValidationError({name: "is not a field of a fact" for name in sorted(unknown)})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, rule in rules.items():
        if name not in fields:
            if not partial and name in {"prompt", "target", "rationale", "source"}:
                errors[name] = ["is required"]
            continue
        try:
            cleaned[name] = rule(fields[name])
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned


def check_wordings(prompt: str, subject: str, paraphrases: list[str]) -> None:
    """What the editor would refuse or waste, refused at submission by field: a subject that is not a span of
    the prompt (the editor keys on its last token), a paraphrase that is the prompt itself (it would judge
    generalisation on the edited wording)."""
    errors: dict[str, list[str]] = {}
    if subject and subject not in prompt:
        errors["subject"] = [
            f"{subject!r} does not occur in the prompt; give the words of the prompt the fact is about"
        ]
    key = normalize_prompt(prompt)
    same = [index + 1 for index, text in enumerate(paraphrases) if normalize_prompt(text) == key]
    if same:
        items = ", ".join(str(index) for index in same)
        errors["paraphrases"] = [f"item {items}: the same as the prompt (ignoring case, spaces and final punctuation)"]
    if errors:
        raise ValidationError(errors)

"""Input rules shared by the API, the web forms, the importer and the service functions.

Every text is NFC-normalised and trimmed; control characters are refused (they hide in
copy-pasted prompts and break tokenisation); lengths are bounded. Texts an edit teaches the model
(prompts, targets, paraphrases, subjects) also refuse Unicode format characters
(category Cf: right-to-left overrides, zero-width spaces, ...), which make a reviewer see another text
than the one stored ("\u202eenohp" shows "phone"), and must hold at least one visible character.
Locality probes keep them: they only check that unrelated answers hold, and real question sets (ZsRE's
Natural Questions probes) contain zero-width spaces. A violation raises
Django's ValidationError keyed by the field, which the API answers with HTTP 400.
"""

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

MAX_PROMPT = 1000
MAX_TARGET = 500
MAX_PARAPHRASES = 20
MAX_LOCALITY_PROBES = 50
MAX_SUBJECT = 300
MAX_RATIONALE = 5000
MAX_SOURCE = 1000

# Multi-line fields may keep newlines and tabs; every other control character is refused.
_MULTILINE_OK = {"\n", "\t", "\r"}


def _has_control(text: str, *, multiline: bool) -> bool:
    for char in text:
        if unicodedata.category(char) in {"Cc", "Cs"} and not (multiline and char in _MULTILINE_OK):
            return True
        if char in {"\u2028", "\u2029"} and not multiline:
            return True
    return False


def _format_character(text: str) -> str | None:
    """The first Unicode format character (category Cf) of text, named for the error message, or None."""
    for char in text:
        if unicodedata.category(char) == "Cf":
            return f"U+{ord(char):04X} {unicodedata.name(char, 'FORMAT CHARACTER')}"
    return None


def _is_visible(char: str) -> bool:
    # Letters, numbers, punctuation and symbols; not spaces, marks alone, controls or format characters.
    return unicodedata.category(char)[0] in "LNPS"


def clean_text(
    field: str,
    value: Any,
    *,
    max_length: int,
    required: bool = True,
    multiline: bool = False,
    model_text: bool = False,
) -> str:
    """NFC-normalised, trimmed text, or ValidationError({field: reason}).

    model_text: an edit teaches the model this text; format characters are refused and, when given,
    it must hold a visible character.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "must be text"})
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise ValidationError({field: "must not be empty"})
    if len(text) > max_length:
        raise ValidationError({field: f"must be at most {max_length} characters (got {len(text)})"})
    if _has_control(text, multiline=multiline):
        raise ValidationError({field: "must not contain control characters"})
    if model_text:
        hidden = _format_character(text)
        if hidden:
            raise ValidationError({field: f"must not contain invisible format characters ({hidden})"})
        if text and not any(_is_visible(char) for char in text):
            raise ValidationError({field: "must contain visible text"})
    return text


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


def clean_locality_probes(value: Any) -> list[dict]:
    """[{"prompt": str, "answer": str | None}]; a bare string is a prompt without an answer."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValidationError({"locality_probes": "must be a list of probes"})
    if len(value) > MAX_LOCALITY_PROBES:
        raise ValidationError({"locality_probes": f"at most {MAX_LOCALITY_PROBES} probes"})
    cleaned = []
    for index, item in enumerate(value):
        probe = {"prompt": item, "answer": None} if isinstance(item, str) else item
        if not isinstance(probe, dict) or set(probe) - {"prompt", "answer"}:
            raise ValidationError({"locality_probes": f"item {index + 1}: must be an object with prompt and answer"})
        try:
            prompt = clean_text("locality_probes", probe.get("prompt"), max_length=MAX_PROMPT)
            answer = clean_text("locality_probes", probe.get("answer"), max_length=MAX_TARGET, required=False)
        except ValidationError as error:
            reason = error.message_dict["locality_probes"][0]
            raise ValidationError({"locality_probes": f"item {index + 1}: {reason}"}) from None
        cleaned.append({"prompt": prompt, "answer": answer or None})
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

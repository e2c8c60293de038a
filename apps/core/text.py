"""Text rules shared by every app: the API, the web forms, the importer and the service functions.

Every text is NFC-normalised and trimmed; control characters are refused (they hide in
copy-pasted prompts and break tokenisation); lengths are bounded. Texts an edit teaches the model
(prompts, targets, paraphrases, subjects) also refuse Unicode format characters
(category Cf: right-to-left overrides, zero-width spaces, ...), which make a reviewer see another text
than the one stored ("\u202eenohp" shows "phone"), and must hold at least one visible character.
Locality probes keep them: they only check that unrelated answers hold, and real question sets (ZsRE's
Natural Questions probes) contain zero-width spaces. A violation raises
Django's ValidationError keyed by the field, which the API answers with HTTP 400.
Locality probes are here because both a fact and a model line carry them.
"""

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

MAX_PROMPT = 1000
MAX_TARGET = 500
MAX_LOCALITY_PROBES = 50

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

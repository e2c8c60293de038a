"""Comparison keys: when two prompts ask the same question and two targets give the same answer. No Django
import, so the editor's library can use the same rule when it decides whether a fact "took".

A key is the text in NFKC (fullwidth "\uff31" is "Q", ligatures split), case folded, whitespace collapsed, then
reduced to its Unicode TR39 confusables skeleton (Cyrillic "\u0430" is Latin "a", "rn" and "m" are one shape), so
a look-alike cannot pass the duplicate and conflict checks as a new question. A prompt's key also drops
trailing punctuation ("Who wrote Hamlet?" is "who wrote hamlet"). Keys are for comparing, never for showing:
a skeleton is not readable text ("mascot" becomes "rnascot").

The skeleton is ICU's (PyICU's SpoofChecker, the reference implementation of TR39, with ICU's Unicode data).
"""

import re
import unicodedata

import icu

_SPACES = re.compile(r"\s+")
_SPOOF = icu.SpoofChecker()  # getSkeleton reads immutable data: one checker serves every thread


def _folded(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _skeleton(text: str) -> str:
    return _SPOOF.getSkeleton(0, text)


def prompt_key(text: str) -> str:
    """The duplicate and conflict key of a prompt."""
    folded = _folded(text)
    while folded and (unicodedata.category(folded[-1]).startswith("P") or folded[-1].isspace()):
        folded = folded[:-1]
    return _skeleton(folded)


def target_key(text: str) -> str:
    """The key of a target: same prompt key and same target key is a duplicate, another target a conflict."""
    return _skeleton(_folded(text))

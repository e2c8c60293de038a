"""Edit requests and the ZsRE JSONL format they are read from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EditorError


@dataclass
class LocalityProbe:
    """An unrelated prompt whose answer an edit should not change; ``answer`` is optional."""

    prompt: str
    answer: str | None = None


@dataclass
class EditRequest:
    """One fact edit: after it, ``prompt`` should be answered with ``target``. ``subject`` (optional,
    a span of the prompt) is whom the fact is about: methods that key edits on it use its last token."""

    prompt: str
    target: str
    paraphrases: list[str] = field(default_factory=list)
    locality: list[LocalityProbe] = field(default_factory=list)
    subject: str | None = None

    def check(self, where: str = "edit") -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise EditorError(f"{where}: empty prompt")
        if not isinstance(self.target, str) or not self.target.strip():
            raise EditorError(f"{where}: empty target for prompt {self.prompt[:60]!r}")
        if self.subject is not None and (
            not isinstance(self.subject, str) or not self.subject.strip() or self.subject not in self.prompt
        ):
            raise EditorError(f"{where}: subject {self.subject!r} does not appear in prompt {self.prompt[:60]!r}")


def _text(record: dict, key: str, where: str, *, required: bool) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise EditorError(f"{where}: missing field {key!r}")
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = value[0]  # ZsRE sometimes stores one-element lists
    if not isinstance(value, str):
        raise EditorError(f"{where}: field {key!r} must be a string")
    return value


def parse_zsre_record(record: object, where: str) -> EditRequest:
    """One ZsRE record (src, rephrase, alt, loc, loc_ans; answers and subject optional) as an EditRequest."""
    if not isinstance(record, dict):
        raise EditorError(f"{where}: expected a JSON object")
    prompt = _text(record, "src", where, required=True)
    target = _text(record, "alt", where, required=True)
    rephrase = _text(record, "rephrase", where, required=False)
    loc = _text(record, "loc", where, required=False)
    loc_ans = _text(record, "loc_ans", where, required=False)
    subject = _text(record, "subject", where, required=False)
    request = EditRequest(
        prompt=prompt,
        target=target,
        paraphrases=[rephrase] if rephrase and rephrase.strip() else [],
        locality=[LocalityProbe(loc, loc_ans if loc_ans and loc_ans.strip() else None)] if loc and loc.strip() else [],
        subject=subject if subject and subject.strip() else None,
    )
    request.check(where)
    return request


def read_zsre(path: str | Path, *, limit: int | None = None) -> list[EditRequest]:
    """Read a ZsRE JSONL file; a bad line raises EditorError naming the file and line number."""
    path = Path(path)
    if not path.is_file():
        raise EditorError(f"data file {str(path)!r} does not exist")
    requests: list[EditRequest] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EditorError(f"{where}: not valid JSON ({exc.msg})") from None
            requests.append(parse_zsre_record(record, where))
            if limit is not None and len(requests) >= limit:
                break
    if not requests:
        raise EditorError(f"data file {str(path)!r} holds no records")
    return requests

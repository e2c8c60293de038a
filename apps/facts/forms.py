"""Web forms of the fact workflow. They only collect input: the service functions validate and decide."""

from typing import Any

from django import forms

from apps.core import text as text_rules
from apps.facts import validation
from apps.facts.models import FactEdit, ReviewDecision
from apps.modellines.models import ModelLine


class TextListWidget(forms.Widget):
    """Several inputs sharing one name (the page adds rows); the value is the list of what was typed."""

    template_name = ""  # rendered by hand in templates/facts/_fact_fields.html

    def value_from_datadict(self, data, files, name: str) -> list[str]:
        return data.getlist(name) if hasattr(data, "getlist") else list(data.get(name) or [])

    def value_omitted_from_data(self, data, files, name: str) -> bool:
        return False


class ProbeListWidget(forms.Widget):
    """Rows of (prompt, optional answer) posted as `<name>_prompt` and `<name>_answer`."""

    template_name = ""

    def value_from_datadict(self, data, files, name: str) -> list[dict[str, str]]:
        if not hasattr(data, "getlist"):
            return list(data.get(name) or [])
        prompts = data.getlist(f"{name}_prompt")
        answers = data.getlist(f"{name}_answer")
        answers += [""] * (len(prompts) - len(answers))
        return [{"prompt": p, "answer": a} for p, a in zip(prompts, answers, strict=False)]

    def value_omitted_from_data(self, data, files, name: str) -> bool:
        return False


class TextListField(forms.Field):
    widget = TextListWidget

    def to_python(self, value: Any) -> list[str]:
        # Blank rows are the empty inputs the page always offers, not input.
        return [item for item in (value or []) if str(item).strip()]


class ProbeListField(forms.Field):
    widget = ProbeListWidget

    def to_python(self, value: Any) -> list[dict[str, str]]:
        rows = value or []
        return [row for row in rows if str(row.get("prompt", "")).strip() or str(row.get("answer", "")).strip()]


def _text(label: str, max_length: int, *, required: bool = True, rows: int | None = None, help_text: str = ""):
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(
        label=label, max_length=max_length, required=required, help_text=help_text, widget=widget, strip=False
    )


class FactContentForm(forms.Form):
    """The content a curator writes, shared by the submission and the edit forms."""

    prompt = _text(
        "Prompt",
        text_rules.MAX_PROMPT,
        help_text="The question or sentence start the model should complete, e.g. “The capital of Australia is”.",
    )
    target = _text("New target", text_rules.MAX_TARGET, help_text="What the model should answer instead.")
    subject = _text(
        "Subject", validation.MAX_SUBJECT, required=False, help_text="Optional: the entity the fact is about."
    )
    paraphrases = TextListField(
        label="Paraphrases", required=False, help_text="Other wordings of the prompt that should give the same answer."
    )
    locality_probes = ProbeListField(
        label="Locality probes",
        required=False,
        help_text="Unrelated prompts whose answers must not change; the expected answer is optional.",
    )
    rationale = _text("Rationale", validation.MAX_RATIONALE, rows=3, help_text="Why the model should change.")
    source = _text("Source", validation.MAX_SOURCE, help_text="Where the new fact comes from (a URL or a reference).")

    CONTENT_FIELDS = ("prompt", "target", "subject", "paraphrases", "locality_probes", "rationale", "source")

    def content(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.CONTENT_FIELDS if name in self.cleaned_data}


class FactSubmissionForm(FactContentForm):
    model_line = forms.ModelChoiceField(
        label="Model line", queryset=ModelLine.objects.order_by("name"), empty_label="Choose a model line"
    )
    supersedes = forms.ModelChoiceField(
        label="This fact replaces",
        queryset=FactEdit.objects.all(),
        required=False,
        widget=forms.RadioSelect,
        help_text="Choose the conflicting fact this one supersedes, so it can be approved.",
    )
    field_order = ["model_line", "prompt", "target", "subject"]


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=[
            (ReviewDecision.APPROVE, "Approve"),
            (ReviewDecision.REJECT, "Reject"),
            (ReviewDecision.REQUEST_CHANGES, "Request changes"),
        ],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=validation.MAX_RATIONALE,
        help_text="Every decision carries a comment; the curator reads it on the fact page.",
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="Reason", required=False, max_length=1000)


class ChangeSetUploadForm(forms.Form):
    """A bulk import: the file and the line; a worker reads the rows into a change set."""

    model_line = forms.ModelChoiceField(
        label="Model line", queryset=ModelLine.objects.order_by("name"), empty_label="Choose a model line"
    )
    file = forms.FileField(
        label="File", help_text="ZsRE JSONL (src, alt, rephrase, loc, loc_ans) or CSV (prompt, target, ...)."
    )
    rationale = _text(
        "Rationale", validation.MAX_RATIONALE, required=False, rows=2, help_text="For rows without their own."
    )
    source = _text("Source", validation.MAX_SOURCE, required=False, help_text='Default: "FILE, line N".')


class ChangeSetReviewForm(ReviewForm):
    # The revision the reviewer saw: a set changed meanwhile is refused rather than approved unseen.
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ExcludeRowsForm(forms.Form):
    rows = forms.TypedMultipleChoiceField(label="Rows", coerce=int, choices=(), required=True)
    reason = forms.CharField(
        label="Reason", max_length=validation.MAX_RATIONALE, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The action checks that the ids are rows of the set; any id is accepted here.
        self.fields["rows"].choices = [(value, value) for value in (self.data.getlist("rows") if self.data else [])]

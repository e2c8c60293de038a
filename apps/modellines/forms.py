"""The operator's form for a model line. It parses input; apps.modellines.actions validates and saves."""

from typing import Any

from django import forms

from apps.modellines.models import EDITABLE_FIELDS, ModelLine


class LinesField(forms.CharField):
    """A list of strings typed one per line."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "code"})

    def prepare_value(self, value: Any) -> str:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class ModelLineForm(forms.ModelForm):
    edited_modules = LinesField(
        label="Edited modules",
        required=False,
        help_text="Dotted module names, one per line, e.g. model.layers.20.mlp.down_proj. Empty: the family default.",
    )

    class Meta:
        model = ModelLine
        fields = list(EDITABLE_FIELDS)
        labels = {
            "name": "Name",
            "base_model": "Base model",
            "editor_settings": "Editor settings (JSON)",
            "locality_probes": "Locality probes (JSON)",
            "min_efficacy": "Minimum efficacy",
            "min_generalization": "Minimum generalisation",
            "min_locality": "Minimum locality",
            "min_retention": "Minimum retention",
            "max_perplexity_drift": "Maximum perplexity drift",
            "approvals_required": "Approvals required",
            "review_sample_size": "Change set sample size",
            "batch_size": "Batch size",
            "max_wait": "Maximum wait",
            "recheck_sample_size": "Earlier facts asked again per version",
            "max_reapplications": "Re-applications of a fact production does not say",
            "full_check_interval": "Full check of production every",
        }
        help_texts = {
            "name": "Lowercase letters, digits and hyphens; used in URLs and the API.",
            "base_model": "A local Hugging Face directory or a hub id. Empty: the bundled reference model.",
            "editor_settings": 'e.g. {"method": "amend", "lr": 0.001, "lam": 1.0}',
            "locality_probes": 'Unrelated prompts every version is checked on: [{"prompt": "...", "answer": null}]',
            "min_efficacy": "Between 0 and 1.",
            "min_generalization": "Between 0 and 1.",
            "min_locality": "Between 0 and 1.",
            "min_retention": "Between 0 and 1.",
            "max_perplexity_drift": "Relative change allowed on the fixed text: 0.10 is +10%.",
            "approvals_required": "Reviewers who must approve a fact (1 to 10).",
            "review_sample_size": "Rows of an imported change set shown to reviewers as its random sample (1 to 500).",
            "batch_size": "Approved facts applied together.",
            "max_wait": "A batch is cut after this long even if not full (HH:MM:SS).",
            "recheck_sample_size": ModelLine._meta.get_field("recheck_sample_size").help_text,
            "max_reapplications": ModelLine._meta.get_field("max_reapplications").help_text,
            "full_check_interval": "Every applied fact asked of production this often (HH:MM:SS or days); "
            "empty: only on demand.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "editor_settings": forms.Textarea(attrs={"rows": 3, "class": "code"}),
            "locality_probes": forms.Textarea(attrs={"rows": 3, "class": "code"}),
        }

    GATE_FIELDS = ("min_efficacy", "min_generalization", "min_locality", "min_retention", "max_perplexity_drift")

    def clean_editor_settings(self) -> dict:
        # An emptied box means "no overrides", not null.
        return self.cleaned_data.get("editor_settings") or {}

    def clean_locality_probes(self) -> list:
        return self.cleaned_data.get("locality_probes") or []

    # Added after the first forms were written: left out of a post, the line keeps its value (or the default).
    OPTIONAL_SETTINGS = ("review_sample_size", "recheck_sample_size", "max_reapplications")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.OPTIONAL_SETTINGS:
            self.fields[name].required = False

    def _kept(self, name: str) -> int:
        given = self.cleaned_data.get(name)
        if given is not None:
            return given
        return getattr(self.instance, name) if self.instance.pk else ModelLine._meta.get_field(name).default

    def clean_review_sample_size(self) -> int:
        return self._kept("review_sample_size")

    def clean_recheck_sample_size(self) -> int:
        return self._kept("recheck_sample_size")

    def clean_max_reapplications(self) -> int:
        return self._kept("max_reapplications")

"""A model line: a base checkpoint, the editor's settings and the gates a version must pass."""

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

unit_interval = [MinValueValidator(0.0), MaxValueValidator(1.0)]


# What operators may set on a line, in the order forms and the API present them.
EDITABLE_FIELDS = (
    "name",
    "description",
    "base_model",
    "edited_modules",
    "editor_settings",
    "locality_probes",
    "min_efficacy",
    "min_generalization",
    "min_locality",
    "min_retention",
    "max_perplexity_drift",
    "approvals_required",
    "review_sample_size",
    "batch_size",
    "max_wait",
    "recheck_sample_size",
    "max_reapplications",
    "full_check_interval",
)


class ModelLine(models.Model):
    name = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    # A local Hugging Face directory or a hub id; empty means the bundled reference model.
    base_model = models.CharField(max_length=500, blank=True)
    # Dotted module names the editor changes; empty means the architecture family's default.
    edited_modules = models.JSONField(default=list, blank=True)
    # Editor settings passed to editor.EditorConfig (method, lr, lam, steps, ...).
    editor_settings = models.JSONField(default=dict, blank=True)
    # A fixed set of unrelated prompts ({"prompt": ..., "answer": ... or null}) every version is checked on.
    locality_probes = models.JSONField(default=list, blank=True)

    min_efficacy = models.FloatField(default=0.9, validators=unit_interval)
    min_generalization = models.FloatField(default=0.6, validators=unit_interval)
    min_locality = models.FloatField(default=0.9, validators=unit_interval)
    min_retention = models.FloatField(default=0.8, validators=unit_interval)
    # Relative perplexity change on the fixed text: 0.10 allows +10%.
    max_perplexity_drift = models.FloatField(default=0.10, validators=[MinValueValidator(0.0)])

    approvals_required = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # K: how many rows of a change set reviewers are shown as its seeded random sample.
    review_sample_size = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    batch_size = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1), MaxValueValidator(10_000)])
    max_wait = models.DurationField(default=timedelta(hours=1))
    # The lineage checks itself: after every version, this many of the line's earlier applied facts
    # (a seeded sample) are asked again. 500 (README, "Figures"): with the editor's six steps, over 10 batches
    # of 100 a full check then finds 91.9% of what took still said (89.3% with 400, 87.2% with 200 at four
    # steps), and a version's evaluation stays shorter than its edit (at most 0.82 of it).
    recheck_sample_size = models.PositiveIntegerField(
        default=500,
        validators=[MinValueValidator(0), MaxValueValidator(10_000)],
        help_text="Earlier applied facts each new version is asked again (a seeded sample); 0 turns the check off. "
        "500 keeps a version's evaluation shorter than its edit at batches of 100.",
    )
    max_reapplications = models.PositiveSmallIntegerField(
        default=2,
        validators=[MaxValueValidator(20)],
        help_text="How often a fact production does not say (its edit did not take, or it regressed) is re-applied "
        "automatically; after that a fact that regressed is held as 'keeps regressing' for its curator, and one "
        "that never took stays applied, marked as not taken.",
    )
    full_check_interval = models.DurationField(
        null=True,
        blank=True,
        help_text="How often production is asked every applied fact of the line (empty: only on demand).",
    )

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def gates(self) -> dict[str, float]:
        return {
            "min_efficacy": self.min_efficacy,
            "min_generalization": self.min_generalization,
            "min_locality": self.min_locality,
            "min_retention": self.min_retention,
            "max_perplexity_drift": self.max_perplexity_drift,
        }

    def audit_snapshot(self) -> dict:
        """What an audit event records of this line before and after a change."""
        return {
            "name": self.name,
            "description": self.description,
            "base_model": self.base_model,
            "edited_modules": self.edited_modules,
            "editor_settings": self.editor_settings,
            "locality_probes": self.locality_probes,
            **self.gates(),
            "approvals_required": self.approvals_required,
            "review_sample_size": self.review_sample_size,
            "batch_size": self.batch_size,
            "max_wait_seconds": self.max_wait.total_seconds(),
            "recheck_sample_size": self.recheck_sample_size,
            "max_reapplications": self.max_reapplications,
            "full_check_interval_seconds": (
                self.full_check_interval.total_seconds() if self.full_check_interval else None
            ),
        }

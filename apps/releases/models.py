"""Batches, model versions, promotions and probes: what the release pipeline did to each model line.

A version is the base checkpoint plus the ordered deltas of its ancestry (`delta_chain`), so any
version can be rebuilt bitwise on any machine and production can point back at it exactly.
"""

from django.conf import settings
from django.db import models

from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine


class ImmutableFieldError(Exception):
    """A batch's content (its facts and their hash) never changes once it is cut."""


class BatchKind(models.TextChoices):
    RELEASE = "release"  # approved facts cut into a batch
    REVERT = "revert"  # rebuild the lineage without one applied fact


class BatchTrigger(models.TextChoices):
    SIZE = "size"
    WAIT = "wait"
    RELEASE_NOW = "release_now"
    REVERT = "revert"


class BatchState(models.TextChoices):
    PENDING = "pending"  # waiting for (or on) a GPU worker
    APPLIED = "applied"  # produced its version
    FAILED = "failed"  # no version: see failure_reason


class Batch(models.Model):
    model_line = models.ForeignKey(ModelLine, on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField(max_length=16, choices=BatchKind.choices, default=BatchKind.RELEASE)
    trigger = models.CharField(max_length=16, choices=BatchTrigger.choices)
    # Ordered fact ids; for a revert batch, the one fact to take out of the lineage.
    fact_ids = models.JSONField()
    # sha256 over the facts' content at cut time (prompt, target, paraphrases, probes, revision).
    content_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=BatchState.choices, default=BatchState.PENDING, db_index=True)
    # Counted in the database at every start of the apply task, so a worker that dies is noticed
    # by the next one; reset when a delivery ends cleanly (a retry), capped by AMEND_MAX_DELIVERIES.
    deliveries = models.PositiveIntegerField(default=0)
    # Clean retries (MLflow unreachable) so far.
    retries = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    # Where the worker is (apps.releases.progress.STAGES), for the live progress on the pages.
    stage = models.CharField(max_length=16, blank=True)
    stage_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    MUTABLE_FIELDS = frozenset({"state", "deliveries", "retries", "failure_reason", "finished_at", "stage", "stage_at"})

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"batch {self.pk} of {self.model_line_id} ({self.kind}, {len(self.fact_ids)} facts)"

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        if self.pk is not None and (update_fields is None or not set(update_fields) <= self.MUTABLE_FIELDS):
            raise ImmutableFieldError("a batch's facts and content hash are immutable; save only its state fields")
        super().save(*args, **kwargs)


class VersionState(models.TextChoices):
    CANDIDATE = "candidate"  # passed its gates, promotion on its way
    PRODUCTION = "production"
    SUPERSEDED = "superseded"  # was production, replaced by a descendant
    HELD = "held"  # missed a gate or an operator held it
    FAILED = "failed"  # non-finite weights or metrics
    ROLLED_BACK = "rolled_back"  # production was pointed at a version it does not descend from


class ModelVersion(models.Model):
    model_line = models.ForeignKey(ModelLine, on_delete=models.PROTECT, related_name="versions")
    # 0 is the base checkpoint itself.
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # One batch, one version: the unique key that makes a redelivered batch idempotent.
    batch = models.OneToOneField(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="version")
    state = models.CharField(max_length=16, choices=VersionState.choices, db_index=True)
    state_reason = models.TextField(blank=True)
    # Facts this version adds to its parent (for a revert version: the replayed ones).
    fact_ids = models.JSONField(default=list)
    # Batches replayed by a revert version, in order.
    replayed_batch_ids = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # {gate: {"metric", "threshold", "value", "passed", "reason"}}
    gate_results = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, db_index=True)
    # Every delta from the base to this version, in order (local paths; also MLflow artifacts).
    delta_chain = models.JSONField(default=list, blank=True)
    normalizer_path = models.CharField(max_length=1000, blank=True)
    # The dense edited weights after this whole chain (editor/versions.py), stored every few
    # versions so a rebuild starts there instead of at the base; empty when this version has none.
    snapshot_path = models.CharField(max_length=1000, blank=True)
    # How delta_chain becomes weights: 2 = versions.py's rule, 1 = legacy.py's (versions recorded before).
    weights_rule = models.PositiveSmallIntegerField(default=2)
    delta_bytes = models.BigIntegerField(default=0)
    checkpoint_bytes = models.BigIntegerField(default=0)
    # The resolved editor configuration this version was built with (editor.EditorConfig.to_dict():
    # the family's defaults with the line's settings over them, at build time).
    editor_config = models.JSONField(default=dict, blank=True)
    # The check of earlier facts after the edit: {"asked": n, "still_said": k, "regressed": {fact id: answer}}.
    recheck = models.JSONField(default=dict, blank=True)
    # {load, edit, evaluate, mlflow, materialise} seconds.
    stage_seconds = models.JSONField(default=dict, blank=True)
    mlflow_run_id = models.CharField(max_length=64, blank=True)
    mlflow_model_name = models.CharField(max_length=200, blank=True)
    mlflow_model_version = models.CharField(max_length=32, blank=True)
    # Where the full Hugging Face checkpoint was exported on promotion.
    checkpoint_uri = models.CharField(max_length=1000, blank=True)
    # The interval the lineage lock was held while this version was built.
    built_from = models.DateTimeField(null=True, blank=True)
    built_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model_line", "-number"]
        constraints = [models.UniqueConstraint(fields=["model_line", "number"], name="version_number_per_line")]

    def __str__(self) -> str:
        return f"{self.model_line_id} v{self.number}"

    @property
    def label(self) -> str:
        return f"v{self.number}"


class VersionFactResult(models.Model):
    """One fact's evaluation in one version (FactEdit.results holds the latest)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="fact_results")
    fact = models.ForeignKey(FactEdit, on_delete=models.PROTECT, related_name="version_results")
    results = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["version", "fact"], name="one_result_per_fact_version")]


class PromotionKind(models.TextChoices):
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    HOLD = "hold"


class Promotion(models.Model):
    """Every promotion, rollback and hold, which MLflow's aliases alone do not remember."""

    model_line = models.ForeignKey(ModelLine, on_delete=models.PROTECT, related_name="promotions")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotions")
    # The production version this one replaced (None for a hold or the first promotion).
    previous = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=PromotionKind.choices)
    # None with automatic=True: the pipeline promoted it because it met every gate.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    automatic = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    # MLflow aliases follow the database; set once the alias task has moved them.
    aliases_synced = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.version}"

    @property
    def actor_name(self) -> str:
        return self.actor.get_username() if self.actor_id else "automation"


class ProbeState(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


# What a probe may ask: the prompt's length and how many tokens the answer may have.
MAX_PROBE_PROMPT = 2000
MAX_NEW_TOKENS = 64


class Probe(models.Model):
    """A prompt put to one version; a GPU worker writes the greedy answer."""

    model_line = models.ForeignKey(ModelLine, on_delete=models.PROTECT, related_name="probes")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="probes")
    prompt = models.TextField()
    max_new_tokens = models.PositiveSmallIntegerField(default=16)
    state = models.CharField(max_length=16, choices=ProbeState.choices, default=ProbeState.PENDING)
    answer = models.TextField(blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class CheckState(models.TextChoices):
    RUNNING = "running"  # asked, or a GPU worker is asking production
    DONE = "done"
    FAILED = "failed"


class FactCheck(models.Model):
    """A full check, "which of this line's applied facts does production say today?": each one asked of
    the production version, with the date; a dated report (page, CSV/JSON, an MLflow artifact of it)."""

    model_line = models.ForeignKey(ModelLine, on_delete=models.PROTECT, related_name="fact_checks")
    # Production when the check was asked: the version every fact is asked of.
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="fact_checks")
    state = models.CharField(max_length=16, choices=CheckState.choices, default=CheckState.RUNNING, db_index=True)
    # None: the line's schedule (beat) asked.
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    facts_total = models.PositiveIntegerField(default=0)
    facts_checked = models.PositiveIntegerField(default=0)  # progress, while it runs
    # When its worker last reported progress (None: no worker has started it). A running check with no
    # progress for AMEND_CHECK_STALL_SECONDS is failed by the sweeper (its worker stopped, its task lost).
    progress_at = models.DateTimeField(null=True, blank=True)
    still_said = models.PositiveIntegerField(default=0)
    # Per fact, in application order: {fact_id, prompt, target, answer, still_said, applied_in, since}; `since`
    # is the version that no longer says it (None while it is said).
    results = models.JSONField(default=list, blank=True)
    # sha256 of the report (what the audit trail records of the result).
    digest = models.CharField(max_length=64, blank=True)
    mlflow_artifact = models.CharField(max_length=1000, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Never two checks of one line at once, even asked in the same instant.
            models.UniqueConstraint(
                fields=["model_line"], condition=models.Q(state="running"), name="one_running_check_per_line"
            )
        ]

    def __str__(self) -> str:
        return f"full check #{self.pk} of {self.model_line_id}"

    @property
    def regressed(self) -> list[dict]:
        return [row for row in self.results if not row["still_said"]]

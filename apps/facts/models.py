"""Fact edits and their reviews."""

from django.conf import settings
from django.db import models
from django.db.models.functions import MD5

from apps.modellines.models import ModelLine


class FactState(models.TextChoices):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    # Set by the release pipeline.
    QUEUED = "queued"
    APPLIED = "applied"
    # Not said by production: a later version (or a full check) no longer says an applied fact, or its own
    # version did not (its edit did not take). Re-applied by the next batch, within the line's limit.
    REGRESSED = "regressed"
    HELD = "held"
    ROLLED_BACK = "rolled_back"
    REVERTED = "reverted"


# An identical fact (same prompt key and target key, apps.core.keys) in one of these states makes a new one a
# duplicate; the database refuses a second one (`fact_once_per_line`), so concurrent submissions cannot store
# two. Rolled back counts: it may come back into the model (roll forward, retry) beside a newer copy otherwise.
DUPLICATE_STATES: frozenset[str] = frozenset(
    {
        FactState.DRAFT,
        FactState.SUBMITTED,
        FactState.CHANGES_REQUESTED,
        FactState.APPROVED,
        FactState.QUEUED,
        FactState.APPLIED,
        FactState.REGRESSED,
        FactState.HELD,
        FactState.ROLLED_BACK,
    }
)
FACT_ONCE_PER_LINE = "fact_once_per_line"


class FactEdit(models.Model):
    model_line = models.ForeignKey(ModelLine, on_delete=models.PROTECT, related_name="facts")
    prompt = models.TextField()
    target = models.TextField()
    # The conflict key (apps.core.keys.prompt_key: NFKC, case folded, TR39 skeleton, no trailing punctuation).
    normalized_prompt = models.TextField(db_index=True)
    # apps.core.keys.target_key: same prompt key + same target key = duplicate, else conflict.
    normalized_target = models.TextField(blank=True)
    paraphrases = models.JSONField(default=list, blank=True)
    # [{"prompt": str, "answer": str | null}, ...]
    locality_probes = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    rationale = models.TextField()
    source = models.CharField(max_length=1000)
    submitter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="facts")
    state = models.CharField(max_length=24, choices=FactState.choices, default=FactState.DRAFT, db_index=True)
    # Bumped on every edit of the content: reviews of an older revision no longer count.
    revision = models.PositiveIntegerField(default=1)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    # Why the last transition happened (a gate that failed, a rollback, ...), for curators.
    state_reason = models.TextField(blank=True)
    # Per-fact evaluation results from the version that applied it (efficacy, generalization, ...).
    results = models.JSONField(default=dict, blank=True)
    # The lineage's self-check: the version that last did not say the fact, when, and how often it was re-applied.
    regressed_in = models.PositiveIntegerField(null=True, blank=True)
    regressed_at = models.DateTimeField(null=True, blank=True)
    regressions = models.PositiveSmallIntegerField(default=0)
    # sha256 of (model line, prompt, target, source row) for idempotent bulk imports.
    import_key = models.CharField(max_length=64, blank=True, db_index=True)
    # The change set (bulk import) the fact came from, and its line in that file; None for a single submission.
    change_set = models.ForeignKey(
        "facts.ChangeSet", null=True, blank=True, on_delete=models.PROTECT, related_name="rows"
    )
    source_line = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["model_line", "state", "approved_at"]),
            models.Index(fields=["model_line", "normalized_prompt"]),
        ]
        constraints = [
            # Importing the same row twice creates nothing new, even from two imports at once.
            models.UniqueConstraint(
                fields=["model_line", "import_key"], condition=~models.Q(import_key=""), name="fact_import_key_once"
            ),
            # The duplicate rule (DUPLICATE_STATES) as a unique index. On the keys' hashes: a long prompt in a
            # script of 3-byte characters would not fit a btree entry as text.
            models.UniqueConstraint(
                "model_line",
                MD5("normalized_prompt"),
                MD5("normalized_target"),
                condition=models.Q(state__in=sorted(DUPLICATE_STATES)),
                name=FACT_ONCE_PER_LINE,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt[:60]} -> {self.target[:40]}"

    def audit_snapshot(self) -> dict:
        """What an audit event records of this fact before and after a change."""
        return {
            "state": self.state,
            "revision": self.revision,
            "prompt": self.prompt,
            "target": self.target,
            "paraphrases": self.paraphrases,
            "locality_probes": self.locality_probes,
            "subject": self.subject,
            "rationale": self.rationale,
            "source": self.source,
            "supersedes_id": self.supersedes_id,
            "state_reason": self.state_reason,
        }


class ReviewDecision(models.TextChoices):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class Review(models.Model):
    fact = models.ForeignKey(FactEdit, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=24, choices=ReviewDecision.choices)
    comment = models.TextField()
    # The fact revision this review judged; a later edit makes it stale.
    fact_revision = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class ChangeSetState(models.TextChoices):
    IMPORTING = "importing"  # the background job is still reading the file
    FAILED = "failed"  # the import could not finish, or no row was valid
    SUBMITTED = "submitted"  # waiting for reviewers
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class ImportChannel(models.TextChoices):
    UI = "ui"
    API = "api"
    COMMAND = "command"


class ChangeSet(models.Model):
    """One bulk import, reviewed as a unit: its rows are the facts whose `change_set` is this one."""

    model_line = models.ForeignKey(ModelLine, on_delete=models.PROTECT, related_name="change_sets")
    importer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="change_sets")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)
    channel = models.CharField(max_length=8, choices=ImportChannel.choices)
    # Defaults for rows that carry no rationale or source of their own.
    rationale = models.TextField(blank=True)
    source = models.CharField(max_length=1000, blank=True)
    state = models.CharField(
        max_length=24, choices=ChangeSetState.choices, default=ChangeSetState.IMPORTING, db_index=True
    )
    state_reason = models.TextField(blank=True)
    # Bumped by every change of what the set proposes (a row excluded, a resubmission): approvals of an
    # earlier revision no longer count, and the sample is drawn again.
    revision = models.PositiveIntegerField(default=1)
    # Progress of the import job: data rows in the file, rows read so far, facts created so far.
    rows_total = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    # The last file line the job committed (a redelivered job resumes after it).
    last_line = models.PositiveIntegerField(default=0)
    # Rows refused by the import: [{"line": int, "kind": "invalid" | "duplicate", "reason": str}].
    refused = models.JSONField(default=list, blank=True)
    # The uploaded file, kept in the database so any worker machine can read it; emptied once imported.
    upload = models.TextField(blank=True)
    sample_seed = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"change set #{self.pk} ({self.file_name})"

    def audit_snapshot(self) -> dict:
        return {
            "state": self.state,
            "revision": self.revision,
            "file": self.file_name,
            "format": self.file_format,
            "channel": self.channel,
            "rows_created": self.rows_created,
            "rows_refused": len(self.refused),
            "state_reason": self.state_reason,
        }


class ChangeSetReview(models.Model):
    """A reviewer's decision on a whole change set, with the sample they were shown."""

    change_set = models.ForeignKey(ChangeSet, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=24, choices=ReviewDecision.choices)
    comment = models.TextField()
    revision = models.PositiveIntegerField()
    # The fact ids of the seeded sample shown with this revision, and the seed that drew it.
    sample = models.JSONField(default=list)
    sample_seed = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

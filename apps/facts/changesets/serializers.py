"""API shapes of change sets: the upload, the set with its import progress, the review summary, decisions."""

from rest_framework import serializers

from apps.core.api import StrictInput
from apps.core.serializers import text
from apps.facts import validation as rules
from apps.facts.changesets import queries
from apps.facts.changesets.files import FORMATS
from apps.facts.models import ChangeSet, ChangeSetReview, ChangeSetState, FactState, ImportChannel, ReviewDecision
from apps.modellines.fields import ModelLineField


class ChangeSetUploadSerializer(StrictInput, serializers.Serializer):
    model_line = ModelLineField()
    file = serializers.FileField(help_text="ZsRE JSONL or CSV")
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, help_text="guessed from the file name when left out"
    )
    rationale = text(rules.MAX_RATIONALE, required=False, default="", help_text="for rows without their own")
    source = text(rules.MAX_SOURCE, required=False, default="", help_text='default: "FILE, line N"')


class ChangeSetSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    model_line = serializers.IntegerField(source="model_line_id", read_only=True)
    model_line_name = serializers.CharField(source="model_line.name", read_only=True)
    importer = serializers.CharField(source="importer.username", read_only=True)
    file_name = serializers.CharField(read_only=True)
    file_format = serializers.CharField(read_only=True)
    channel = serializers.ChoiceField(choices=ImportChannel.choices, read_only=True)
    state = serializers.ChoiceField(choices=ChangeSetState.choices, read_only=True)
    state_reason = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True, help_text="send it with a review: a changed set is refused")
    rows_total = serializers.IntegerField(read_only=True, help_text="data rows in the file")
    rows_read = serializers.IntegerField(read_only=True, help_text="rows the import job has read so far")
    rows_created = serializers.IntegerField(read_only=True, help_text="rows that became facts of the set")
    rows_refused = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField(help_text="approvals of the current revision")
    approvals_required = serializers.IntegerField(source="model_line.approvals_required", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    imported_at = serializers.DateTimeField(read_only=True, allow_null=True)
    decided_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_rows_refused(self, change_set: ChangeSet) -> int:
        return len(change_set.refused)

    def get_approvals(self, change_set: ChangeSet) -> int:
        return len({review.reviewer_id for review in queries.current_approvals(change_set)})


class RefusedRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["invalid", "duplicate"])
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    change_set = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ChangeSetState.choices)
    state_reason = serializers.CharField()
    rows_total = serializers.IntegerField()
    rows_read = serializers.IntegerField()
    rows_created = serializers.IntegerField()
    rows_refused = serializers.IntegerField()
    refused_by_kind = serializers.DictField(child=serializers.IntegerField())
    summary = serializers.CharField()
    refused_rows = RefusedRowSerializer(many=True)


class RowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    line = serializers.IntegerField(source="source_line", allow_null=True)
    change_set = serializers.IntegerField(source="change_set_id", allow_null=True)
    prompt = serializers.CharField()
    target = serializers.CharField()
    state = serializers.ChoiceField(choices=FactState.choices)


class LiveConflictSerializer(serializers.Serializer):
    row = RowSerializer(source="0")
    live_fact = RowSerializer(source="1")


class SampleRowSerializer(serializers.Serializer):
    row = RowSerializer(source="fact")
    paraphrases = serializers.ListField(source="fact.paraphrases", child=serializers.CharField())
    production_answer = serializers.CharField(
        allow_null=True, help_text="production's answer from an earlier probe; null: none yet"
    )


class ChangeSetSummarySerializer(serializers.Serializer):
    change_set = ChangeSetSerializer()
    rows_by_state = serializers.DictField(child=serializers.IntegerField())
    refused_by_kind = serializers.DictField(child=serializers.IntegerField())
    conflicts_with_live = LiveConflictSerializer(many=True, help_text=f"the first {queries.SHOWN_CONFLICTS}")
    conflicts_with_live_total = serializers.IntegerField()
    conflicts_within = serializers.ListField(child=RowSerializer(many=True), help_text="rows sharing a prompt")
    conflicts_within_total = serializers.IntegerField()
    same_subject = serializers.ListField(
        child=RowSerializer(many=True),
        help_text="rows naming one subject with different targets and prompts: possible contradictions (not blocking)",
    )
    same_subject_total = serializers.IntegerField()
    sample_seed = serializers.IntegerField()
    sample = SampleRowSerializer(many=True)


class ChangeSetReviewCreateSerializer(StrictInput, serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    comment = text(rules.MAX_RATIONALE)
    revision = serializers.IntegerField(
        min_value=1, required=False, help_text="the revision you reviewed; refused (409) if the set changed since"
    )


class ChangeSetReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = ChangeSetReview
        fields = [
            "id",
            "change_set",
            "reviewer",
            "decision",
            "comment",
            "revision",
            "sample_seed",
            "sample",
            "created_at",
        ]
        read_only_fields = fields


class ExcludeRowsSerializer(StrictInput, serializers.Serializer):
    rows = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=20_000)
    reason = text(rules.MAX_RATIONALE)


def summary_data(change_set: ChangeSet) -> dict:
    """What ChangeSetSummarySerializer shows: everything a reviewer weighs before deciding."""
    found = queries.conflicts(change_set)
    return {
        "change_set": change_set,
        "rows_by_state": queries.row_counts(change_set),
        "refused_by_kind": queries.refused_counts(change_set),
        "conflicts_with_live": found.with_live,
        "conflicts_with_live_total": found.with_live_total,
        "conflicts_within": found.within,
        "conflicts_within_total": found.within_total,
        "same_subject": found.same_subject,
        "same_subject_total": found.same_subject_total,
        "approvals": queries.current_approvals(change_set),
        "sample_seed": queries.sample_seed(change_set),
        "sample": queries.sample(change_set),
    }

"""API shapes of facts and reviews. Content rules live in apps.facts.validation and apps.core.text."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api import StrictInput
from apps.core.serializers import LocalityProbeSerializer, text
from apps.core.text import MAX_PROMPT, MAX_TARGET
from apps.facts import validation as rules
from apps.facts.conflicts import find_conflicts
from apps.facts.models import FactEdit, FactState, Review, ReviewDecision
from apps.modellines.fields import ModelLineField


class FactSerializer(serializers.Serializer):
    # A plain Serializer, not a ModelSerializer: it is built on every submission, and introspecting
    # the model each time costs more than the rest of the answer.
    id = serializers.IntegerField(read_only=True)
    model_line = serializers.IntegerField(source="model_line_id", read_only=True)
    model_line_name = serializers.CharField(source="model_line.name", read_only=True)
    prompt = serializers.CharField(read_only=True)
    target = serializers.CharField(read_only=True)
    paraphrases = serializers.ListField(child=serializers.CharField(), read_only=True)
    locality_probes = LocalityProbeSerializer(many=True, read_only=True)
    subject = serializers.CharField(read_only=True)
    rationale = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)
    submitter = serializers.CharField(source="submitter.username", read_only=True)
    state = serializers.ChoiceField(choices=FactState.choices, read_only=True)
    state_reason = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True)
    supersedes = serializers.IntegerField(source="supersedes_id", read_only=True, allow_null=True)
    has_conflict = serializers.SerializerMethodField()
    results = serializers.DictField(read_only=True)
    regressed_in = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="the version that last did not say this fact (regressed or untaken)"
    )
    regressed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    regressions = serializers.IntegerField(
        read_only=True, help_text="how often production did not say it (its edit did not take, or it regressed)"
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    submitted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def conflicts_of(self, fact: FactEdit) -> list[FactEdit]:
        """The live facts conflicting with `fact`: context["conflicts"] when the view already has them
        (create_fact_with_conflicts found them), else asked now."""
        given = self.context.get("conflicts")
        if given is not None:
            return given
        return find_conflicts(fact.model_line_id, fact.prompt, fact.target, exclude=fact)

    def get_has_conflict(self, fact: FactEdit) -> bool:
        flag = getattr(fact, "has_conflict", None)  # annotated by with_conflict_flag in lists
        if flag is None:
            flag = any(other.pk != fact.supersedes_id for other in self.conflicts_of(fact))
        return bool(flag)


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    current = serializers.SerializerMethodField(help_text="judges the fact's current revision")

    class Meta:
        model = Review
        fields = ["id", "fact", "reviewer", "decision", "comment", "fact_revision", "current", "created_at"]
        read_only_fields = fields

    def get_current(self, review: Review) -> bool:
        return review.fact_revision == review.fact.revision


class ConflictSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.CharField()
    target = serializers.CharField()
    state = serializers.CharField()
    superseded_by_this = serializers.BooleanField()


class FactDetailSerializer(FactSerializer):
    conflicts = serializers.SerializerMethodField()
    reviews = serializers.SerializerMethodField()

    @extend_schema_field(ConflictSerializer(many=True))
    def get_conflicts(self, fact: FactEdit) -> list[dict]:
        """The other facts a reviewer must see beside this one."""
        return [
            {
                "id": other.pk,
                "prompt": other.prompt,
                "target": other.target,
                "state": other.state,
                "superseded_by_this": other.pk == fact.supersedes_id,
            }
            for other in self.conflicts_of(fact)
        ]

    @extend_schema_field(ReviewSerializer(many=True))
    def get_reviews(self, fact: FactEdit) -> list[dict]:
        if self.context.get("just_created"):
            return []
        return ReviewSerializer(fact.reviews.select_related("reviewer"), many=True).data


class FactCreateSerializer(StrictInput, serializers.Serializer):
    model_line = ModelLineField()
    prompt = text(MAX_PROMPT)
    target = text(MAX_TARGET)
    paraphrases = serializers.ListField(
        child=text(MAX_PROMPT), required=False, max_length=rules.MAX_PARAPHRASES, default=list
    )
    locality_probes = LocalityProbeSerializer(many=True, required=False, default=list)
    subject = text(rules.MAX_SUBJECT, required=False, default="")
    rationale = text(rules.MAX_RATIONALE)
    source = text(rules.MAX_SOURCE)
    submit = serializers.BooleanField(default=True, help_text="false keeps the fact as a draft")
    supersedes = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None)


class FactUpdateSerializer(StrictInput, serializers.Serializer):
    prompt = text(MAX_PROMPT, required=False)
    target = text(MAX_TARGET, required=False)
    paraphrases = serializers.ListField(child=text(MAX_PROMPT), required=False, max_length=rules.MAX_PARAPHRASES)
    locality_probes = LocalityProbeSerializer(many=True, required=False)
    subject = text(rules.MAX_SUBJECT, required=False)
    rationale = text(rules.MAX_RATIONALE, required=False)
    source = text(rules.MAX_SOURCE, required=False)
    supersedes = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class WithdrawSerializer(StrictInput, serializers.Serializer):
    reason = text(rules.MAX_RATIONALE, required=False, default="")


class SupersedeSerializer(StrictInput, serializers.Serializer):
    supersedes = serializers.IntegerField(min_value=1, help_text="id of the fact this one replaces")


class ReviewCreateSerializer(StrictInput, serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    comment = text(rules.MAX_RATIONALE)


STATE_CHOICES = FactState.choices

"""API shapes of batches, versions, promotions, probes and full checks (read-only: writes go through actions)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.facts.models import FactEdit
from apps.modellines.fields import ModelLineField
from apps.outbox.queries import dispatch_status
from apps.releases.links import mlflow_version_url
from apps.releases.models import (
    MAX_NEW_TOKENS,
    MAX_PROBE_PROMPT,
    Batch,
    FactCheck,
    ModelVersion,
    Probe,
    Promotion,
)

REASON = serializers.CharField(max_length=2000, help_text="why; kept in the promotion history and the audit trail")


class VersionSerializer(serializers.ModelSerializer):
    model_line = serializers.CharField(source="model_line.name", read_only=True)
    model_line_id = serializers.IntegerField(read_only=True)
    parent = serializers.IntegerField(source="parent.number", read_only=True, default=None)
    mlflow_url = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model_line",
            "model_line_id",
            "number",
            "parent",
            "batch",
            "state",
            "state_reason",
            "fact_ids",
            "replayed_batch_ids",
            "metrics",
            "gate_results",
            "content_hash",
            "delta_chain",
            "normalizer_path",
            "delta_bytes",
            "checkpoint_bytes",
            "stage_seconds",
            "recheck",
            "mlflow_run_id",
            "mlflow_model_name",
            "mlflow_model_version",
            "mlflow_url",
            "checkpoint_uri",
            "built_from",
            "built_until",
            "created_at",
        ]
        read_only_fields = fields

    def get_mlflow_url(self, version: ModelVersion) -> str:
        return mlflow_version_url(version)


class BatchFactSerializer(serializers.ModelSerializer):
    class Meta:
        model = FactEdit
        fields = ["id", "prompt", "target", "state", "state_reason", "results"]
        read_only_fields = fields


class DispatchSerializer(serializers.Serializer):
    waiting_for_broker = serializers.BooleanField(help_text="the broker has not taken its task yet")
    note = serializers.CharField(allow_blank=True, help_text='"queued, the broker is unreachable..." or empty')
    since = serializers.DateTimeField()
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    sends = serializers.IntegerField(help_text="messages sent for it (more than one: re-sent)")


class BatchSerializer(serializers.ModelSerializer):
    model_line = serializers.CharField(source="model_line.name", read_only=True)
    model_line_id = serializers.IntegerField(read_only=True)
    version = serializers.SerializerMethodField()
    dispatch = serializers.SerializerMethodField(help_text="its way to the workers (apps.outbox): null if never sent")

    class Meta:
        model = Batch
        fields = [
            "id",
            "model_line",
            "model_line_id",
            "kind",
            "trigger",
            "fact_ids",
            "content_hash",
            "state",
            "deliveries",
            "retries",
            "failure_reason",
            "version",
            "dispatch",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(DispatchSerializer(allow_null=True))
    def get_dispatch(self, batch: Batch) -> dict | None:
        return dispatch_status(f"batch:{batch.pk}")

    def get_version(self, batch: Batch) -> int | None:
        version = getattr(batch, "version", None)
        return version.number if version is not None else None


class BatchDetailSerializer(BatchSerializer):
    facts = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "facts"]
        read_only_fields = fields

    def get_facts(self, batch: Batch) -> list[dict]:
        """Each fact of the batch with its current state and its results in this batch's version."""
        facts = FactEdit.objects.in_bulk(batch.fact_ids)
        version = getattr(batch, "version", None)
        in_version = {r.fact_id: r.results for r in version.fact_results.all()} if version is not None else {}
        rows = []
        for fact_id in batch.fact_ids:
            fact = facts.get(fact_id)
            if fact is None:
                continue
            row = BatchFactSerializer(fact).data
            row["results"] = in_version.get(fact_id, fact.results)
            rows.append(row)
        return rows


class _OfOneVersion(serializers.ModelSerializer):
    """A record about one version of a line: names the line, the version's number and its id."""

    model_line = serializers.CharField(source="model_line.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    version_id = serializers.IntegerField(read_only=True)


class PromotionSerializer(_OfOneVersion):
    previous = serializers.IntegerField(source="previous.number", read_only=True, default=None)
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = Promotion
        fields = [
            "id",
            "model_line",
            "version",
            "version_id",
            "previous",
            "kind",
            "actor",
            "automatic",
            "reason",
            "metrics",
            "content_hash",
            "aliases_synced",
            "created_at",
        ]
        read_only_fields = fields


class ProbeSerializer(_OfOneVersion):
    class Meta:
        model = Probe
        fields = [
            "id",
            "model_line",
            "version",
            "version_id",
            "prompt",
            "max_new_tokens",
            "state",
            "answer",
            "error",
            "created_at",
            "answered_at",
        ]
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = REASON


class ProbeRequestSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=MAX_PROBE_PROMPT, help_text="the prompt to ask the version")
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=MAX_NEW_TOKENS, default=16)


class LineProbeRequestSerializer(ProbeRequestSerializer):
    model_line = ModelLineField()


class ReleaseNowSerializer(serializers.Serializer):
    model_line = serializers.IntegerField(help_text="id of the model line whose approved facts to release")


class RevertSerializer(serializers.Serializer):
    fact = serializers.IntegerField(help_text="id of the applied fact to take out of production")
    reason = REASON


class FactCheckSerializer(serializers.ModelSerializer):
    model_line = serializers.CharField(source="model_line.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None)
    regressed = serializers.SerializerMethodField(help_text="the facts production no longer says, with `since`")

    class Meta:
        model = FactCheck
        fields = [
            "id",
            "model_line",
            "version",
            "state",
            "requested_by",
            "facts_total",
            "facts_checked",
            "progress_at",
            "still_said",
            "regressed",
            "digest",
            "mlflow_artifact",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_regressed(self, check: FactCheck) -> list[dict]:
        return check.regressed


class FactCheckRequestSerializer(serializers.Serializer):
    model_line = ModelLineField()

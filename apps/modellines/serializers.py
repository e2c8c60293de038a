"""API shape of a model line. Range rules come from the model's validators (full_clean in the actions)."""

from rest_framework import serializers

from apps.core.serializers import LocalityProbeSerializer
from apps.modellines.models import EDITABLE_FIELDS, ModelLine

MAX_WAIT_SECONDS = 7 * 24 * 3600
MAX_CHECK_INTERVAL_SECONDS = 366 * 24 * 3600
# Durations the API states in seconds: serializer field -> model field.
SECONDS_FIELDS = {"max_wait_seconds": "max_wait", "full_check_interval_seconds": "full_check_interval"}


class ModelLineSerializer(serializers.ModelSerializer):
    edited_modules = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$", max_length=200),
        required=False,
        max_length=64,
        help_text="dotted module names; empty means the architecture family's default",
    )
    editor_settings = serializers.DictField(required=False, help_text="editor.EditorConfig overrides")
    locality_probes = LocalityProbeSerializer(many=True, required=False)
    max_wait_seconds = serializers.IntegerField(
        min_value=1, max_value=MAX_WAIT_SECONDS, required=False, help_text="longest wait before a batch is cut"
    )
    full_check_interval_seconds = serializers.IntegerField(
        min_value=60,
        max_value=MAX_CHECK_INTERVAL_SECONDS,
        required=False,
        allow_null=True,
        help_text="how often production is asked every applied fact (null: only on demand)",
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = ModelLine
        fields = [
            "id",
            *(name for name in EDITABLE_FIELDS if name not in SECONDS_FIELDS.values()),
            *SECONDS_FIELDS,
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]
        extra_kwargs = {
            "min_efficacy": {"min_value": 0.0, "max_value": 1.0},
            "min_generalization": {"min_value": 0.0, "max_value": 1.0},
            "min_locality": {"min_value": 0.0, "max_value": 1.0},
            "min_retention": {"min_value": 0.0, "max_value": 1.0},
            "max_perplexity_drift": {"min_value": 0.0, "max_value": 100.0},
            # Uniqueness is checked by the action (full_clean), in the same transaction as the write.
            "name": {"validators": []},
        }

    def to_representation(self, line: ModelLine) -> dict:
        data = super().to_representation(line)
        for api_name, name in SECONDS_FIELDS.items():
            duration = getattr(line, name)
            data[api_name] = int(duration.total_seconds()) if duration is not None else None
        return data

    def action_fields(self) -> dict:
        """validated_data as keyword arguments of create_model_line / update_model_line."""
        fields = dict(self.validated_data)
        for api_name, name in SECONDS_FIELDS.items():
            if api_name in fields:
                fields[name] = fields.pop(api_name)
        if "locality_probes" in fields:
            fields["locality_probes"] = [
                {"prompt": probe["prompt"], "answer": probe.get("answer")} for probe in fields["locality_probes"]
            ]
        return fields

from rest_framework import serializers

from apps.audit.export import COLUMNS
from apps.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = COLUMNS
        read_only_fields = fields


class FindingSerializer(serializers.Serializer):
    kind = serializers.CharField()
    message = serializers.CharField()


class ChainReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField(help_text="events verified before the first broken one")
    broken_event = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    checkpoints = serializers.IntegerField(help_text="signed checkpoints the chain was checked against")
    newest_checkpoint = serializers.DictField(allow_null=True)
    findings = FindingSerializer(many=True, help_text="truncated, rewritten, inserted, missing-checkpoint...")
    notes = serializers.ListField(child=serializers.CharField(), help_text="what could not be checked")

from rest_framework import serializers

from apps.audit.export import COLUMNS
from apps.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = COLUMNS
        read_only_fields = fields


class ChainReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField(help_text="events verified before the first broken one")
    broken_event = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)

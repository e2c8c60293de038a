"""API shapes every app shares: a text field that leaves trimming to the service, a locality probe."""

from rest_framework import serializers

from apps.core.api import StrictInput
from apps.core.text import MAX_PROMPT, MAX_TARGET


def text(max_length: int, *, required: bool = True, **kwargs) -> serializers.CharField:
    # No trimming here: the service trims and NFC-normalises, so API and UI say the same thing.
    return serializers.CharField(
        max_length=max_length, required=required, allow_blank=not required, trim_whitespace=False, **kwargs
    )


class LocalityProbeSerializer(StrictInput, serializers.Serializer):
    prompt = text(MAX_PROMPT)
    answer = text(MAX_TARGET, required=False, allow_null=True)

from rest_framework import serializers

from apps.core.api import StrictInput


class SignInSerializer(StrictInput, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="", help_text="a name for the new token")


class NewTokenSerializer(StrictInput, serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, default="", help_text="what the token is for")


class ApiTokenSerializer(serializers.Serializer):
    """A token as its owner's list shows it: never the token itself (only its hash is stored)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="the token's first characters")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class TokenSerializer(serializers.Serializer):
    """A newly issued token: the only time it is shown."""

    token = serializers.CharField(help_text="send as `Authorization: Token <token>`; shown only this once")
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    is_superuser = serializers.BooleanField()

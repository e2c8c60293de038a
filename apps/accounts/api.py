"""Accounts in the API: exchange a password for a token, see who you are, read or rotate your token."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from amend.api_support import SignInThrottle, WriteThrottle
from apps.accounts.roles import roles_of
from apps.accounts.serializers import MeSerializer, SignInSerializer, TokenSerializer


def _token_body(user, token: Token) -> dict:
    return {"token": token.key, "username": user.get_username(), "roles": [role.value for role in roles_of(user)]}


class SignInTokenView(APIView):
    """POST a username and password, get the user's API token (created on first use)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [SignInThrottle]

    @extend_schema(
        request=SignInSerializer,
        responses={200: TokenSerializer, 400: OpenApiResponse(description="wrong username or password")},
    )
    def post(self, request: Request) -> Response:
        form = SignInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = authenticate(request._request, **form.validated_data)
        if user is None or not user.is_active:
            return Response({"non_field_errors": ["wrong username or password"]}, status=status.HTTP_400_BAD_REQUEST)
        token, _ = Token.objects.get_or_create(user=user)
        return Response(_token_body(user, token))


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "username": user.get_username(),
                "roles": [role.value for role in roles_of(user)],
                "is_superuser": user.is_superuser,
            }
        )


class MyTokenView(APIView):
    """The signed-in user's API token: GET reads it (creating one if needed), POST replaces it."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [WriteThrottle]

    @extend_schema(request=None, responses={200: TokenSerializer})
    def get(self, request: Request) -> Response:
        token, _ = Token.objects.get_or_create(user=request.user)
        return Response(_token_body(request.user, token))

    @extend_schema(request=None, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        token = Token.objects.create(user=request.user)
        return Response(_token_body(request.user, token))

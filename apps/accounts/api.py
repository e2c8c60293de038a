"""Accounts in the API: exchange a password for a token, see who you are, list, issue and revoke your tokens.

A token is shown once, in the answer that issues it; the database keeps only its hash, so nothing can
read it back later. Writes go through apps.accounts.actions (audited); refusals map in amend.refusals.
"""

from typing import Any

from django.contrib.auth import authenticate
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.accounts import actions
from apps.accounts.queries import live_tokens
from apps.accounts.roles import roles_of
from apps.accounts.serializers import (
    ApiTokenSerializer,
    MeSerializer,
    NewTokenSerializer,
    SignInSerializer,
    TokenSerializer,
)
from apps.accounts.throttling import sign_in_failed, sign_in_succeeded, sign_in_wait
from apps.core.api import REFUSALS, WriteThrottle


def _issued_body(issued: actions.IssuedToken) -> dict:
    user = issued.token.user
    return {
        "token": issued.key,
        "id": issued.token.pk,
        "expires_at": issued.token.expires_at,
        "username": user.get_username(),
        "roles": [role.value for role in roles_of(user)],
    }


class SignInThrottle(BaseThrottle):
    """Password attempts on the API, limited per client address and per (user name, address) with backoff
    (apps.accounts.throttling, shared with the sign-in page)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        self.seconds = sign_in_wait(request, username)
        return self.seconds is None

    def wait(self) -> float | None:
        return self.seconds


class SignInTokenView(APIView):
    """POST a username and password, get a new API token (shown once; valid for AMEND_TOKEN_DAYS)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [SignInThrottle]

    @extend_schema(
        request=SignInSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="wrong username or password"),
            429: OpenApiResponse(description="too many attempts from this address, or for this user name from it"),
        },
    )
    def post(self, request: Request) -> Response:
        form = SignInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            sign_in_failed(request, data["username"])
            return Response({"non_field_errors": ["wrong username or password"]}, status=status.HTTP_400_BAD_REQUEST)
        sign_in_succeeded(request, data["username"])
        return Response(_issued_body(actions.issue_token(user, name=data["name"] or "sign-in")))


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
    """POST replaces every token of the signed-in user with one new one (shown once). Nothing reads a token back."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [WriteThrottle]

    @extend_schema(request=NewTokenSerializer, responses={200: TokenSerializer, **REFUSALS})
    def post(self, request: Request) -> Response:
        form = NewTokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(_issued_body(actions.replace_tokens(request.user, name=form.validated_data["name"])))


class MyTokensView(APIView):
    """GET lists the signed-in user's live tokens (names, first characters, expiry); POST issues another one."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [WriteThrottle]

    @extend_schema(responses={200: ApiTokenSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(ApiTokenSerializer(live_tokens(request.user), many=True).data)

    @extend_schema(request=NewTokenSerializer, responses={201: TokenSerializer, **REFUSALS})
    def post(self, request: Request) -> Response:
        form = NewTokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        issued = actions.issue_token(request.user, name=form.validated_data["name"])
        return Response(_issued_body(issued), status=status.HTTP_201_CREATED)


class MyTokenDetailView(APIView):
    """DELETE revokes one of the signed-in user's tokens; it stops working at once (another user's: 404)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [WriteThrottle]

    @extend_schema(request=None, responses={204: None, 404: OpenApiResponse(description="no such token of yours")})
    def delete(self, request: Request, pk: int) -> Response:
        actions.revoke_token(request.user, get_object_or_404(live_tokens(request.user), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

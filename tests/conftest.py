"""Shared fixtures: one user per role, a model line, fact helpers, web and API clients.

Other parts' tests reuse these; keep them small and their names plain. The heavier shared fixtures
(the real model, MLflow store and Celery workers; headless Chromium) are plugins under tests/fixtures.
"""

import os
import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.backends.signals import connection_created
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, token_digest
from apps.accounts.roles import Role, grant_role
from apps.facts.actions import create_fact
from apps.facts.models import FactEdit
from apps.modellines.actions import create_model_line
from apps.modellines.models import ModelLine

pytest_plugins = ["tests.fixtures.sqlite", "tests.fixtures.pipeline", "tests.fixtures.browser"]

PASSWORD = "correct-horse-battery-staple"


def _allow_emptying_the_audit_table(sender, connection, **kwargs) -> None:
    # pytest-django empties the test database with TRUNCATE between transactional tests; PostgreSQL
    # refuses it on the audit table unless the session says so (migrations/audit/0004_refuse_truncate.py).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET amend.audit_truncate = 'allow'")


connection_created.connect(_allow_emptying_the_audit_table)


@pytest.fixture(autouse=True, scope="session")
def _a_broker_database_per_test_process(worker_id: str) -> None:
    """`make test` runs the suite in parallel processes (pytest-xdist): each gets its own Redis database
    for the broker, so one process's workers never take, and its purges never drop, another's tasks."""
    from celery import current_app
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if worker_id == "master" or not url.startswith("redis://"):
        return
    base, _, db = url.rpartition("/")
    number = (int(db) if db.isdigit() else 0) + 2 + int(worker_id.removeprefix("gw"))
    settings.CELERY_BROKER_URL = current_app.conf.broker_url = current_app.conf.broker_write_url = f"{base}/{number}"


@pytest.fixture(autouse=True, scope="session")
def _workers_witness_outside_the_checkout(tmp_path_factory) -> None:
    """Workers the tests start inherit this: their witness lines stay out of the checkout's var/."""
    os.environ["AMEND_AUDIT_WITNESS_FILE"] = str(tmp_path_factory.mktemp("workers-witness") / "witness.log")


@pytest.fixture(autouse=True)
def _a_witness_file_per_test(settings, tmp_path) -> None:
    """The audit witness (apps.audit.witness) names event ids of one database: a test's own file, so the ids of
    another test's emptied database are never held against this one's."""
    settings.AMEND_AUDIT_WITNESS_FILE = tmp_path / "audit-witness.log"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # The production hasher takes ~0.3 s per user on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> None:
    # Throttle counters live in the cache: one test's requests must not use up the next one's allowance.
    cache.clear()


@pytest.fixture
def password() -> str:
    """The password of every user made by make_user."""
    return PASSWORD


@pytest.fixture
def make_user(db) -> Callable[..., object]:
    """make_user("name", Role.CURATOR, ...) -> a user holding those roles, password PASSWORD."""

    def make(username: str, *roles: Role, **extra) -> object:
        user = get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)
        for role in roles:
            grant_role(user, role)
        return user

    return make


@pytest.fixture
def curator(make_user):
    return make_user("cora", Role.CURATOR)


@pytest.fixture
def other_curator(make_user):
    return make_user("colin", Role.CURATOR)


@pytest.fixture
def reviewer(make_user):
    return make_user("rita", Role.REVIEWER)


@pytest.fixture
def second_reviewer(make_user):
    return make_user("rob", Role.REVIEWER)


@pytest.fixture
def operator(make_user):
    return make_user("otto", Role.OPERATOR)


@pytest.fixture
def auditor(make_user):
    return make_user("ada", Role.AUDITOR)


@pytest.fixture
def nobody(make_user):
    """Signed in, but holding no role."""
    return make_user("nora")


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(username="sue", password=PASSWORD)


@pytest.fixture
def users(curator, reviewer, operator, auditor, nobody, superuser) -> dict[str, object | None]:
    """Every kind of visitor the UI knows, by name; "anonymous" is not signed in."""
    return {
        "anonymous": None,
        "nobody": nobody,
        "curator": curator,
        "reviewer": reviewer,
        "operator": operator,
        "auditor": auditor,
        "superuser": superuser,
    }


@pytest.fixture
def client_for(db) -> Callable[[object | None], Client]:
    """client_for(user) -> a browser-like client signed in as user (None: anonymous)."""

    def make(user=None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def model_line(operator) -> ModelLine:
    return create_model_line(operator, name="geo", description="Geography facts")


@pytest.fixture
def make_fact(curator, model_line) -> Callable[..., FactEdit]:
    """make_fact(prompt=..., target=..., actor=..., submit=...) -> a fact created through the service."""
    counter = iter(range(1, 1_000_000))

    def make(
        prompt: str | None = None, target: str = "Paris", *, actor=None, line: ModelLine | None = None, **fields
    ) -> FactEdit:
        fields.setdefault("rationale", "The atlas was updated")
        fields.setdefault("source", "https://example.org/atlas")
        return create_fact(
            actor or curator,
            line or model_line,
            prompt=prompt or f"What is the capital of country number {next(counter)}?",
            target=target,
            **fields,
        )

    return make


@pytest.fixture
def submitted_fact(make_fact) -> FactEdit:
    return make_fact("What is the capital of France?", "Paris", paraphrases=["France's capital city is"])


def token_for(user) -> str:
    """A fresh API token of `user`, stored as apps.accounts.actions.issue_token stores it but without its
    audit event, so tests that count events see only the events of what they do."""
    key = f"amend_test_{secrets.token_urlsafe(24)}"
    ApiToken.objects.create(
        user=user, prefix=key[:12], digest=token_digest(key), expires_at=timezone.now() + timedelta(days=1)
    )
    return key


@pytest.fixture
def api_client_for(db) -> Callable[[object | None], APIClient]:
    """api_client_for(user) -> an APIClient authenticated with a fresh token of the user; None -> anonymous."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    return make


@pytest.fixture
def cora(curator, api_client_for):
    """The curator's API client."""
    return api_client_for(curator)

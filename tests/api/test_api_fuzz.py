"""Fuzz the whole API from its own OpenAPI schema (schemathesis, in-process over WSGI): no 5xx, ever.

Valid and invalid requests are generated for every operation and sent as a superuser (who holds
every role, so the requests reach the deepest code). Bounded: a fixed number of examples per
operation and mode, derandomized so a failure reproduces.
"""

import logging

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import token_for

EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def fuzz_world(make_user, make_fact, reviewer, submitted_fact):
    """A superuser plus a little data, so ids 1, 2, ... often exist and detail routes do real work."""
    from apps.facts.actions import review_fact

    make_fact(submit=False)
    review_fact(reviewer, submitted_fact, "request_changes", "add a source")
    return make_user("fuzzy", is_superuser=True)


def fuzz(operation, mode: GenerationMode, user, server_errors: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case) -> None:
        # A fresh token each time: fuzzing POST /api/me/token/ and DELETE /api/me/tokens/{id}/ revoke them.
        response = case.call(headers={"Authorization": f"Token {token_for(user)}"})
        if response.status_code >= 500:
            server_errors.append(f"{operation.label} ({mode.value}): {response.status_code} {case.path}")

    try:
        call()
    except Unsatisfiable:
        # An operation with no parameters and no body has no invalid variant to generate.
        assert mode == GenerationMode.NEGATIVE


@pytest.fixture
def wsgi_app():
    """The real WSGI handler, minus the per-request connection closing (it would end the test transaction),
    exactly as Django's own test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    # Thousands of deliberate 4xx answers: logging each one only slows the run down.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    yield WSGIHandler()
    request_log.setLevel(level)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_api_never_answers_with_a_server_error(fuzz_world, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, fuzz_world, server_errors)
    assert len(operations) >= 15, "the schema lists the whole API"
    assert server_errors == []

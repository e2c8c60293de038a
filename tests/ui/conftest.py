"""Fixtures for the web UI tests: a small world of facts on one model line, and signed-in clients."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(username="sue", password="correct-horse-battery-staple")


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


@dataclass
class World:
    line: ModelLine
    submitted: FactEdit  # by the curator, waiting for review
    draft: FactEdit  # by the curator, not submitted yet
    mine_conflicting: FactEdit  # by the curator, same prompt as `theirs` with another target
    theirs: FactEdit  # by another curator, submitted first


@pytest.fixture
def world(model_line, make_fact, other_curator) -> World:
    theirs = make_fact("Who wrote Hamlet?", "Christopher Marlowe", actor=other_curator)
    return World(
        line=model_line,
        submitted=make_fact("What is the capital of Australia?", "Canberra", paraphrases=["Australia's capital is"]),
        draft=make_fact("What is the tallest mountain?", "K2", submit=False),
        mine_conflicting=make_fact("who wrote hamlet", "William Shakespeare"),
        theirs=theirs,
    )

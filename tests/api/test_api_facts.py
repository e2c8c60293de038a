"""Facts and reviews through the REST API, as an automation client would use them."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.settings import api_settings

from apps.facts.actions import review_fact


def fact_body(line, **overrides):
    return {
        "model_line": line.pk,
        "prompt": "What is the capital of Australia?",
        "target": "Canberra",
        "paraphrases": ["Australia's capital is"],
        "locality_probes": [{"prompt": "What is the capital of Japan?", "answer": "Tokyo"}],
        "rationale": "Common misconception: Sydney",
        "source": "https://example.org/australia",
        **overrides,
    }


@pytest.fixture
def rita(reviewer, api_client_for):
    return api_client_for(reviewer)


def test_a_curator_submits_and_a_reviewer_approves(cora, rita, model_line):
    created = cora.post("/api/facts/", fact_body(model_line), format="json")
    assert created.status_code == 201
    fact = created.json()
    assert fact["state"] == "submitted" and fact["submitter"] == "cora" and fact["revision"] == 1
    assert fact["locality_probes"] == [{"prompt": "What is the capital of Japan?", "answer": "Tokyo"}]

    queue = rita.get(f"/api/facts/?state=submitted&model_line={model_line.pk}&ordering=submitted_at").json()
    assert [row["id"] for row in queue["results"]] == [fact["id"]]

    review = rita.post(f"/api/facts/{fact['id']}/review/", {"decision": "approve", "comment": "Correct"})
    assert review.status_code == 201 and review.json()["current"] is True
    detail = rita.get(f"/api/facts/{fact['id']}/").json()
    assert detail["state"] == "approved"
    assert [r["reviewer"] for r in detail["reviews"]] == ["rita"]


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"prompt": "  \t "}, "prompt", "must not be empty"),
        ({"target": "Can\x1bberra"}, "target", "control characters"),
        ({"target": "x" * 501}, "target", "no more than 500"),
        ({"paraphrases": ["ok", ""]}, "paraphrases", "blank"),
        ({"rationale": ""}, "rationale", "blank"),
        ({"model_line": 999999}, "model_line", "does not exist"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(cora, model_line, overrides, field, reason):
    response = cora.post("/api/facts/", fact_body(model_line, **overrides), format="json")
    assert response.status_code == 400
    assert reason in str(response.json()[field])


def test_a_draft_is_edited_then_submitted(cora, model_line):
    draft = cora.post("/api/facts/", fact_body(model_line, submit=False), format="json").json()
    assert draft["state"] == "draft"
    edited = cora.patch(f"/api/facts/{draft['id']}/", {"target": "  Canberra (ACT) "}, format="json").json()
    assert edited["target"] == "Canberra (ACT)" and edited["revision"] == 2
    assert cora.post(f"/api/facts/{draft['id']}/submit/").json()["state"] == "submitted"


def test_forbidden_transitions_are_409_with_the_reason(cora, rita, model_line):
    fact = cora.post("/api/facts/", fact_body(model_line), format="json").json()
    edit = cora.patch(f"/api/facts/{fact['id']}/", {"target": "Sydney"}, format="json")
    assert edit.status_code == 409
    assert edit.json()["detail"] == "a submitted fact cannot be edited (only draft or changes_requested)"

    rita.post(f"/api/facts/{fact['id']}/review/", {"decision": "reject", "comment": "no"})
    withdraw = cora.post(f"/api/facts/{fact['id']}/withdraw/")
    assert withdraw.status_code == 409 and "final" in withdraw.json()["detail"]


def test_reviewers_see_a_conflict_beside_the_other_fact(cora, rita, model_line):
    first = cora.post("/api/facts/", fact_body(model_line), format="json").json()
    second = cora.post(
        "/api/facts/", fact_body(model_line, prompt="what is the capital of australia", target="Sydney"), format="json"
    ).json()

    listed = {row["id"]: row["has_conflict"] for row in rita.get("/api/facts/").json()["results"]}
    assert listed == {first["id"]: True, second["id"]: True}
    detail = rita.get(f"/api/facts/{second['id']}/").json()
    assert detail["conflicts"] == [
        {
            "id": first["id"],
            "prompt": first["prompt"],
            "target": "Canberra",
            "state": "submitted",
            "superseded_by_this": False,
        }
    ]
    refused = rita.post(f"/api/facts/{second['id']}/review/", {"decision": "approve", "comment": "ok"})
    assert refused.status_code == 409 and f"#{first['id']}" in refused.json()["detail"]

    marked = cora.post(f"/api/facts/{second['id']}/supersede/", {"supersedes": first["id"]}).json()
    assert marked["supersedes"] == first["id"] and marked["has_conflict"] is False
    assert rita.post(f"/api/facts/{second['id']}/review/", {"decision": "approve", "comment": "ok"}).status_code == 201


def test_an_exact_duplicate_is_refused(cora, model_line):
    cora.post("/api/facts/", fact_body(model_line), format="json")
    again = cora.post("/api/facts/", fact_body(model_line, prompt="What is the capital of Australia"), format="json")
    assert again.status_code == 409 and "already has this prompt and target" in again.json()["detail"]


def test_reviewing_your_own_fact_is_forbidden(make_user, api_client_for, model_line):
    from apps.accounts.roles import Role

    both = make_user("bea", Role.CURATOR, Role.REVIEWER)
    client = api_client_for(both)
    fact = client.post("/api/facts/", fact_body(model_line), format="json").json()
    response = client.post(f"/api/facts/{fact['id']}/review/", {"decision": "approve", "comment": "mine"})
    assert response.status_code == 403 and "own fact" in response.json()["detail"]


def test_lists_are_paginated_and_filterable(make_fact, cora, reviewer, submitted_fact):
    for _ in range(3):
        make_fact()
    review_fact(reviewer, submitted_fact, "approve", "ok")
    page = cora.get("/api/facts/?page_size=2").json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    approved = cora.get("/api/facts/?state=approved").json()
    assert [row["id"] for row in approved["results"]] == [submitted_fact.pk]
    assert cora.get("/api/facts/?state=bogus").status_code == 400
    assert cora.get("/api/facts/?search=France").json()["count"] == 1


def test_writes_are_throttled_per_user(cora, rita, model_line):
    cache.clear()
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "writes": "2/min"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        codes = [
            cora.post("/api/facts/", fact_body(model_line, prompt=f"Question {n}?"), format="json").status_code
            for n in range(3)
        ]
        assert codes == [201, 201, 429]
        assert cora.get("/api/facts/").status_code == 200, "reads are not throttled"
        assert rita.post("/api/me/token/").status_code == 200, "the limit is per user"
    cache.clear()


def _rest_framework() -> dict:
    from django.conf import settings

    return settings.REST_FRAMEWORK


def test_a_token_for_a_password_and_anonymous_is_401(curator, api_client_for, password):
    anonymous = api_client_for(None)
    assert anonymous.get("/api/facts/").status_code == 401
    wrong = anonymous.post("/api/auth/token/", {"username": "cora", "password": "nope"})
    assert wrong.status_code == 400 and wrong.json() == {"non_field_errors": ["wrong username or password"]}

    signed_in = anonymous.post("/api/auth/token/", {"username": "cora", "password": password}).json()
    assert signed_in["username"] == "cora" and signed_in["roles"] == ["curator"]
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {signed_in['token']}")
    assert anonymous.get("/api/me/").json() == {"username": "cora", "roles": ["curator"], "is_superuser": False}

    rotated = anonymous.post("/api/me/token/").json()["token"]
    assert rotated != signed_in["token"]
    assert anonymous.get("/api/me/").status_code == 401, "the old token no longer works"

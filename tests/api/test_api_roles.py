"""Every role against every API action, anonymous included: the whole permission table in one place.

Each action runs against fresh objects owned by the curator "cora", so one call cannot change
what the next one sees. A failing test prints the table of (action: expected, got) that differ.
"""

import io

import pytest

from apps.facts.actions import create_fact, review_change_set, run_import, start_import
from apps.facts.models import ImportChannel

ROLES = ["anonymous", "nobody", "curator", "reviewer", "operator", "auditor", "superuser"]
OK_ALL = {"anonymous": 401, "nobody": 403}

# action -> status per role; roles not named get the action's `other` status.
EXPECTED: dict[str, dict[str, int]] = {
    "facts.list": {**OK_ALL, "other": 200},
    "facts.detail": {**OK_ALL, "other": 200},
    "facts.create": {**OK_ALL, "curator": 201, "superuser": 201, "other": 403},
    "facts.edit_draft": {**OK_ALL, "curator": 200, "superuser": 200, "other": 403},
    "facts.submit": {**OK_ALL, "curator": 200, "superuser": 200, "other": 403},
    "facts.withdraw": {**OK_ALL, "curator": 200, "operator": 200, "superuser": 200, "other": 403},
    "facts.supersede": {**OK_ALL, "curator": 200, "reviewer": 200, "operator": 200, "superuser": 200, "other": 403},
    "facts.review": {**OK_ALL, "reviewer": 201, "superuser": 201, "other": 403},
    "facts.import": {**OK_ALL, "curator": 202, "superuser": 202, "other": 403},
    "change_sets.list": {**OK_ALL, "other": 200},
    "change_sets.upload": {**OK_ALL, "curator": 202, "superuser": 202, "other": 403},
    "change_sets.summary": {**OK_ALL, "other": 200},
    "change_sets.report": {**OK_ALL, "other": 200},
    "change_sets.review": {**OK_ALL, "reviewer": 201, "superuser": 201, "other": 403},
    "change_sets.exclude": {**OK_ALL, "curator": 200, "reviewer": 200, "superuser": 200, "other": 403},
    "change_sets.resubmit": {**OK_ALL, "curator": 200, "superuser": 200, "other": 403},
    "reviews.list": {**OK_ALL, "other": 200},
    "model_lines.list": {**OK_ALL, "other": 200},
    "model_lines.create": {**OK_ALL, "operator": 201, "superuser": 201, "other": 403},
    "model_lines.update": {**OK_ALL, "operator": 200, "superuser": 200, "other": 403},
    "audit.list": {**OK_ALL, "auditor": 200, "superuser": 200, "other": 403},
    "audit.export": {**OK_ALL, "auditor": 200, "superuser": 200, "other": 403},
    "audit.verify": {**OK_ALL, "auditor": 200, "superuser": 200, "other": 403},
    "me": {"anonymous": 401, "other": 200},
    "me.tokens.list": {"anonymous": 401, "other": 200},
    "me.tokens.create": {"anonymous": 401, "other": 201},
    "me.token.rotate": {"anonymous": 401, "other": 200},
    "schema": {"other": 200},
    "docs": {"other": 200},
}


def expected_for(role: str) -> dict[str, int]:
    return {name: table.get(role, table["other"]) for name, table in EXPECTED.items()}


@pytest.fixture
def users(curator, reviewer, operator, auditor, nobody, make_user):
    return {
        "anonymous": None,
        "nobody": nobody,
        "curator": curator,
        "reviewer": reviewer,
        "operator": operator,
        "auditor": auditor,
        "superuser": make_user("sue", is_superuser=True),
    }


@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_every_api_action(role, users, api_client_for, curator, reviewer, model_line, make_fact):
    client = api_client_for(users[role])
    counter = iter(range(1000))

    def fresh(submit=True, **fields):
        return make_fact(f"Which river flows through city {next(counter)}?", "Danube", submit=submit, **fields)

    def rival_of(fact):
        return create_fact(
            curator, model_line, prompt=fact.prompt, target="Rhine", rationale="newer atlas", source="atlas 2026"
        )

    def upload() -> io.BytesIO:
        return _named(io.BytesIO(f'{{"src": "Q{next(counter)}?", "alt": "A"}}\n'.encode()), "rows.jsonl")

    def change_set(changes_requested: bool = False):
        """A change set imported by cora, read at once (as a worker would)."""
        made = start_import(curator, model_line, upload(), "jsonl", channel=ImportChannel.API, in_background=False)
        made = run_import(made.pk)
        if changes_requested:
            review_change_set(reviewer, made, "request_changes", "cite sources")
        return made

    calls = {
        "facts.list": lambda: client.get("/api/facts/"),
        "facts.detail": lambda: client.get(f"/api/facts/{fresh().pk}/"),
        "facts.create": lambda: client.post(
            "/api/facts/",
            {
                "model_line": model_line.pk,
                "prompt": f"Which sea does river {next(counter)} reach?",
                "target": "Black Sea",
                "rationale": "Hydrology survey",
                "source": "https://example.org/rivers",
            },
            format="json",
        ),
        "facts.edit_draft": lambda: client.patch(
            f"/api/facts/{fresh(submit=False).pk}/", {"target": "Danube river"}, format="json"
        ),
        "facts.submit": lambda: client.post(f"/api/facts/{fresh(submit=False).pk}/submit/"),
        "facts.withdraw": lambda: client.post(f"/api/facts/{fresh().pk}/withdraw/", {"reason": "obsolete"}),
        "facts.supersede": lambda: (
            lambda old: client.post(f"/api/facts/{rival_of(old).pk}/supersede/", {"supersedes": old.pk})
        )(fresh()),
        "facts.review": lambda: client.post(
            f"/api/facts/{fresh().pk}/review/", {"decision": "approve", "comment": "matches the atlas"}
        ),
        "facts.import": lambda: client.post(
            "/api/facts/import/",
            {
                "model_line": model_line.pk,
                "file": _named(io.BytesIO(f'{{"src": "Q{next(counter)}?", "alt": "A"}}\n'.encode()), "rows.jsonl"),
            },
            format="multipart",
        ),
        "change_sets.list": lambda: client.get("/api/change-sets/"),
        "change_sets.upload": lambda: client.post(
            "/api/change-sets/", {"model_line": model_line.name, "file": upload()}, format="multipart"
        ),
        "change_sets.summary": lambda: client.get(f"/api/change-sets/{change_set().pk}/summary/"),
        "change_sets.report": lambda: client.get(f"/api/change-sets/{change_set().pk}/report/"),
        "change_sets.review": lambda: client.post(
            f"/api/change-sets/{change_set().pk}/review/", {"decision": "approve", "comment": "sample checked"}
        ),
        "change_sets.exclude": lambda: (
            lambda made: client.post(
                f"/api/change-sets/{made.pk}/exclude/",
                {"rows": [made.rows.get().pk], "reason": "unsourced"},
                format="json",
            )
        )(change_set()),
        "change_sets.resubmit": lambda: client.post(
            f"/api/change-sets/{change_set(changes_requested=True).pk}/resubmit/"
        ),
        "reviews.list": lambda: client.get("/api/reviews/"),
        "model_lines.list": lambda: client.get("/api/model-lines/"),
        "model_lines.create": lambda: client.post(
            "/api/model-lines/", {"name": f"line-{next(counter)}", "approvals_required": 2}, format="json"
        ),
        "model_lines.update": lambda: client.patch(
            f"/api/model-lines/{model_line.pk}/", {"description": "Updated"}, format="json"
        ),
        "audit.list": lambda: client.get("/api/audit/events/"),
        "audit.export": lambda: client.get("/api/audit/events/export/?file_format=json"),
        "audit.verify": lambda: client.get("/api/audit/events/verify/"),
        "me": lambda: client.get("/api/me/"),
        "me.tokens.list": lambda: client.get("/api/me/tokens/"),
        "me.tokens.create": lambda: client.post("/api/me/tokens/", {"name": "script"}),
        "me.token.rotate": lambda: client.post("/api/me/token/"),
        "schema": lambda: client.get("/api/schema/"),
        "docs": lambda: client.get("/api/docs/"),
    }
    assert set(calls) == set(EXPECTED), "every action in the table is exercised"

    got = {}
    for name, call in calls.items():
        got[name] = call().status_code
        if name == "me.token.rotate" and users[role] is not None:
            client = api_client_for(users[role])  # the old token was just replaced
    wrong = {name: (expected_for(role)[name], got[name]) for name in got if got[name] != expected_for(role)[name]}
    assert not wrong, f"{role}: action -> (expected, got): {wrong}"


def _named(stream: io.BytesIO, name: str) -> io.BytesIO:
    stream.name = name
    return stream

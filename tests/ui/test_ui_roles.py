"""Every role against every page and action of the web UI, anonymous visitors included.

Anonymous visitors are sent to the sign-in page; a signed-in user without the role gets 403;
a user with the role gets the page (200) or, for an action, is redirected to its result.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse

from apps.accounts.models import ApiToken
from apps.facts.actions import run_import, start_import
from apps.facts.models import ChangeSet, ChangeSetState, FactEdit, FactState
from apps.modellines.models import ModelLine

OPERATORS = {"operator", "superuser"}
SIGNED_IN = {"nobody", "curator", "reviewer", "operator", "auditor", "superuser"}
STAFF = {"curator", "reviewer", "operator", "auditor", "superuser"}


@dataclass
class Case:
    method: str
    url: Callable  # world -> url
    allowed: set[str]
    data: Callable | None = None  # world -> POST data
    done: Callable | None = None  # world -> True once the action took effect


def state_of(world, pk: int) -> str:
    return FactEdit.objects.get(pk=pk).state


def change_set_of(world) -> ChangeSet:
    """A change set of two rows imported by the curator (read at once, as a worker would), made once per test."""
    if not hasattr(world, "change_set"):
        upload = io.BytesIO(b'{"src": "Where is Ur?", "alt": "Iraq"}\n{"src": "Where is Uruk?", "alt": "Iraq"}\n')
        upload.name = "cities.jsonl"
        made = start_import(world.submitted.submitter, world.line, upload, "jsonl", channel="api", in_background=False)
        world.change_set = run_import(made.pk)
    return world.change_set


def upload_file() -> io.BytesIO:
    upload = io.BytesIO(b'{"src": "Where is Nineveh?", "alt": "Iraq"}\n')
    upload.name = "nineveh.jsonl"
    return upload


CASES = {
    "dashboard": Case("GET", lambda w: reverse("dashboard"), SIGNED_IN),
    "my API token": Case("GET", lambda w: reverse("my_token"), SIGNED_IN),
    "create API token": Case(
        "POST",
        lambda w: reverse("my_token"),
        SIGNED_IN,
        data=lambda w: {},
        done=lambda w: ApiToken.objects.count() == 1,
    ),
    "submission form": Case("GET", lambda w: reverse("fact_create"), {"curator", "superuser"}),
    "submit a fact": Case(
        "POST",
        lambda w: reverse("fact_create"),
        {"curator", "superuser"},
        data=lambda w: {
            "model_line": w.line.pk,
            "prompt": "What is the largest ocean?",
            "target": "The Pacific",
            "rationale": "Checked",
            "source": "https://example.org/oceans",
            "intent": "submit",
        },
        done=lambda w: FactEdit.objects.filter(prompt="What is the largest ocean?").exists(),
    ),
    "live conflict check": Case(
        "GET",
        lambda w: reverse("fact_conflicts") + f"?model_line={w.line.pk}&prompt=Who+wrote+Hamlet&target=Bacon",
        {"curator", "superuser"},
    ),
    "fact page": Case("GET", lambda w: reverse("fact_detail", args=[w.submitted.pk]), STAFF),
    "edit form": Case("GET", lambda w: reverse("fact_edit", args=[w.draft.pk]), {"curator", "superuser"}),
    "edit a fact": Case(
        "POST",
        lambda w: reverse("fact_edit", args=[w.draft.pk]),
        {"curator", "superuser"},
        data=lambda w: {
            "prompt": "What is the highest mountain?",
            "target": "Everest",
            "rationale": "Corrected",
            "source": "https://example.org/peaks",
            "intent": "save",
        },
        done=lambda w: FactEdit.objects.get(pk=w.draft.pk).target == "Everest",
    ),
    "submit a draft": Case(
        "POST",
        lambda w: reverse("fact_submit", args=[w.draft.pk]),
        {"curator", "superuser"},
        data=lambda w: {},
        done=lambda w: state_of(w, w.draft.pk) == FactState.SUBMITTED,
    ),
    "withdraw a fact": Case(
        "POST",
        lambda w: reverse("fact_withdraw", args=[w.submitted.pk]),
        {"curator", "operator", "superuser"},
        data=lambda w: {"reason": "No longer needed"},
        done=lambda w: state_of(w, w.submitted.pk) == FactState.WITHDRAWN,
    ),
    "review queue": Case("GET", lambda w: reverse("review_queue"), {"reviewer", "superuser"}),
    "review a fact": Case(
        "POST",
        lambda w: reverse("fact_review", args=[w.submitted.pk]),
        {"reviewer", "superuser"},
        data=lambda w: {"decision": "approve", "comment": "Matches the atlas"},
        done=lambda w: state_of(w, w.submitted.pk) == FactState.APPROVED,
    ),
    "mark as superseding": Case(
        "POST",
        lambda w: reverse("fact_supersede", args=[w.mine_conflicting.pk]),
        {"curator", "reviewer", "operator", "superuser"},
        data=lambda w: {"other": w.theirs.pk},
        done=lambda w: FactEdit.objects.get(pk=w.mine_conflicting.pk).supersedes_id == w.theirs.pk,
    ),
    "change sets": Case("GET", lambda w: reverse("change_set_list"), STAFF),
    "change set page": Case("GET", lambda w: reverse("change_set_detail", args=[change_set_of(w).pk]), STAFF),
    "import form": Case("GET", lambda w: reverse("change_set_upload"), {"curator", "superuser"}),
    "import a file": Case(
        "POST",
        lambda w: reverse("change_set_upload"),
        {"curator", "superuser"},
        data=lambda w: {"model_line": w.line.pk, "file": upload_file()},
        done=lambda w: ChangeSet.objects.filter(file_name="nineveh.jsonl").exists(),
    ),
    "review a change set": Case(
        "POST",
        lambda w: reverse("change_set_review", args=[change_set_of(w).pk]),
        {"reviewer", "superuser"},
        data=lambda w: {"decision": "approve", "comment": "Sample checked", "revision": "1"},
        done=lambda w: ChangeSet.objects.get(pk=change_set_of(w).pk).state == ChangeSetState.APPROVED,
    ),
    "exclude rows of a change set": Case(
        "POST",
        lambda w: reverse("change_set_exclude", args=[change_set_of(w).pk]),
        {"curator", "reviewer", "superuser"},
        data=lambda w: {"rows": [change_set_of(w).rows.first().pk], "reason": "Unsourced"},
        done=lambda w: change_set_of(w).rows.filter(state=FactState.WITHDRAWN).exists(),
    ),
    # Every role reads the lines and probes production there (issue 10, item 12); operators change them.
    "model lines": Case("GET", lambda w: reverse("modelline_list"), STAFF),
    "model line page": Case("GET", lambda w: reverse("modelline_detail", args=[w.line.name]), STAFF),
    "new model line form": Case("GET", lambda w: reverse("modelline_create"), {"operator", "superuser"}),
    "create a model line": Case(
        "POST",
        lambda w: reverse("modelline_create"),
        {"operator", "superuser"},
        data=lambda w: {
            "name": "history",
            "editor_settings": "{}",
            "locality_probes": "[]",
            "min_efficacy": "0.9",
            "min_generalization": "0.6",
            "min_locality": "0.9",
            "min_retention": "0.8",
            "max_perplexity_drift": "0.1",
            "approvals_required": "2",
            "batch_size": "50",
            "max_wait": "00:30:00",
        },
        done=lambda w: ModelLine.objects.filter(name="history", approvals_required=2).exists(),
    ),
    "model line edit form": Case(
        "GET", lambda w: reverse("modelline_edit", args=[w.line.name]), {"operator", "superuser"}
    ),
    "edit a model line": Case(
        "POST",
        lambda w: reverse("modelline_edit", args=[w.line.name]),
        {"operator", "superuser"},
        data=lambda w: {
            "name": w.line.name,
            "description": "Capitals and peaks",
            "editor_settings": "{}",
            "locality_probes": "[]",
            "min_efficacy": "0.95",
            "min_generalization": "0.6",
            "min_locality": "0.9",
            "min_retention": "0.8",
            "max_perplexity_drift": "0.1",
            "approvals_required": "1",
            "batch_size": "100",
            "max_wait": "01:00:00",
        },
        done=lambda w: ModelLine.objects.get(pk=w.line.pk).min_efficacy == 0.95,
    ),
    "audit trail": Case("GET", lambda w: reverse("audit_events"), {"auditor", "superuser"}),
    "audit export CSV": Case("GET", lambda w: reverse("audit_export_csv"), {"auditor", "superuser"}),
    "audit export JSON": Case("GET", lambda w: reverse("audit_export_json"), {"auditor", "superuser"}),
}
ROLES = ["anonymous", "nobody", "curator", "reviewer", "operator", "auditor", "superuser"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
def test_each_role_gets_exactly_the_pages_and_actions_it_holds(name, role, world, users, client_for):
    case = CASES[name]
    client = client_for(users[role])
    url = case.url(world)
    response = client.get(url) if case.method == "GET" else client.post(url, case.data(world))

    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif role not in case.allowed:
        assert response.status_code == 403, f"{role} must not reach {name}"
        assert b"You cannot open this page" in response.content
        if case.done is not None:
            assert not case.done(world), f"{name} by {role} was refused but still took effect"
    elif case.method == "GET":
        assert response.status_code == 200, f"{role} should see {name}"
    else:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert not response["Location"].startswith(reverse("login"))
        assert case.done(world), f"{name} by {role} had no effect"

"""Bulk import of ZsRE JSONL and CSV as change sets, from the command line and through the API."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.facts.models import FactEdit, FactState

ZSRE_ROWS = [
    {
        "subject": "Watts Humphrey",
        "src": "What university did Watts Humphrey attend?",
        "rephrase": "What university did Watts Humphrey take part in?",
        "alt": "University of Michigan",
        "answers": ["Illinois Institute of Technology"],
        "loc": "nq question: who played desmond doss father in hacksaw ridge",
        "loc_ans": "Hugo Weaving",
    },
    {
        "src": "Which family does Ramalinaceae belong to?",
        "rephrase": "What family are Ramalinaceae?",
        "alt": "Lamiinae",
    },
]


def zsre_file(tmp_path, extra_lines=()):
    path = tmp_path / "zsre.jsonl"
    lines = [json.dumps(row) for row in ZSRE_ROWS] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_import(*args):
    out = io.StringIO()
    call_command("import_facts", *map(str, args), stdout=out)
    return out.getvalue()


def test_zsre_rows_become_submitted_facts_and_bad_rows_are_listed(tmp_path, model_line, curator):
    path = zsre_file(tmp_path, ['{"src": "   ", "alt": "x"}', "not json", '{"src": "Who?", "alt": "A\\u0007"}'])
    output = run_import(path, "--model-line", model_line.name, "--as", curator.username)

    assert "2 rows to review, 3 refused as invalid, 0 refused as duplicates (submitted)" in output
    assert "line 3: prompt: must not be empty" in output
    assert "line 4: not valid JSON" in output
    assert "line 5: target: must not contain control characters" in output
    fact = FactEdit.objects.get(prompt="What university did Watts Humphrey attend?")
    assert fact.state == FactState.SUBMITTED
    assert fact.target == "University of Michigan"
    assert fact.paraphrases == ["What university did Watts Humphrey take part in?"]
    assert fact.locality_probes == [
        {"prompt": "nq question: who played desmond doss father in hacksaw ridge", "answer": "Hugo Weaving"}
    ]
    assert fact.subject == "Watts Humphrey"
    assert fact.source == "zsre.jsonl, line 1" and fact.rationale == "Bulk import of zsre.jsonl"
    assert fact.change_set.importer == curator
    summary = AuditEvent.objects.get(action="changeset.imported")
    assert summary.after["refused_rows"][0] == {"line": 3, "kind": "invalid", "reason": "prompt: must not be empty"}


def test_importing_the_same_file_twice_creates_nothing_new(tmp_path, model_line, curator):
    path = zsre_file(tmp_path)
    run_import(path, "--model-line", model_line.name, "--as", curator.username)
    again = run_import(path, "--model-line", model_line.name, "--as", curator.username)
    assert "0 rows to review, 0 refused as invalid, 2 refused as duplicates (failed)" in again
    assert "already imported as fact #" in again
    assert FactEdit.objects.count() == 2


def test_csv_with_paraphrases_and_probes(tmp_path, model_line, curator):
    path = tmp_path / "facts.csv"
    path.write_text(
        "prompt,target,paraphrases,loc,loc_ans,rationale\n"
        'Who wrote Hamlet?,Christopher Marlowe,"Hamlet was written by|The author of Hamlet is",'
        "What is 2+2?,4,Authorship study\n"
        ",missing prompt,,,,\n",
        encoding="utf-8",
    )
    output = run_import(path, "--model-line", model_line.name, "--as", curator.username)
    assert "1 rows to review, 1 refused as invalid" in output
    assert "line 3: prompt: must not be empty" in output
    fact = FactEdit.objects.get()
    assert fact.paraphrases == ["Hamlet was written by", "The author of Hamlet is"]
    assert fact.locality_probes == [{"prompt": "What is 2+2?", "answer": "4"}]
    assert fact.rationale == "Authorship study"


def test_a_row_duplicating_a_hand_made_fact_is_rejected_with_the_reason(tmp_path, model_line, curator, make_fact):
    existing = make_fact("What university did Watts Humphrey attend?", "University of Michigan")
    output = run_import(zsre_file(tmp_path), "--model-line", model_line.name, "--as", curator.username)
    assert f"line 1: fact #{existing.pk} on this model line already has this prompt and target" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--model-line", "geo", "--as", "cora"], "no such file"),
        (["FILE", "--model-line", "nowhere", "--as", "cora"], "no model line named 'nowhere'"),
        (["FILE", "--model-line", "geo", "--as", "ghost"], "no user named 'ghost'"),
        (["FILE", "--model-line", "geo", "--as", "rita"], "only a curator may import facts"),
    ],
)
def test_bad_command_lines_get_one_line_and_exit_code_2(tmp_path, model_line, curator, reviewer, args, message):
    path = zsre_file(tmp_path)
    args = [str(path) if arg == "FILE" else arg for arg in args]
    with pytest.raises(CommandError, match=message) as caught:
        run_import(*args)
    assert caught.value.returncode == 2


def test_import_through_the_api_answers_at_once_and_a_worker_reads_the_rows(
    tmp_path, model_line, curator, api_client_for, django_capture_on_commit_callbacks
):
    from apps.outbox.models import OutboxMessage
    from workers.imports import import_change_set

    client = api_client_for(curator)
    upload = io.BytesIO(zsre_file(tmp_path, ["[1, 2]"]).read_bytes())
    upload.name = "zsre.jsonl"
    response = client.post("/api/facts/import/", {"model_line": model_line.name, "file": upload}, format="multipart")
    assert response.status_code == 202
    change_set = response.json()
    assert (change_set["state"], change_set["rows_total"], change_set["rows_read"]) == ("importing", 3, 0)
    assert FactEdit.objects.count() == 0  # nothing is read inside the request
    message = OutboxMessage.objects.get()
    assert (message.task, message.args) == ("workers.imports.import_change_set", [change_set["id"]])

    import_change_set(change_set["id"])  # what the worker runs
    report = client.get(f"/api/change-sets/{change_set['id']}/report/").json()
    assert (report["state"], report["rows_read"], report["rows_created"]) == ("submitted", 3, 2)
    assert report["refused_rows"] == [{"line": 3, "kind": "invalid", "reason": "not a JSON object"}]


@pytest.mark.parametrize(
    ("content", "name", "field", "message"),
    [
        (b"", "empty.jsonl", "file", "is empty"),
        (b"\n\n", "blank.jsonl", "file", "has no rows to import"),
        (b"prompt,target\n", "header-only.csv", "file", "has no rows to import"),
        (b"a" * (20 * 1024 * 1024 + 1), "huge.jsonl", "file", "is larger than 20 MiB"),
    ],
)
def test_api_refuses_an_upload_with_nothing_to_import_or_too_large(
    model_line, curator, api_client_for, content, name, field, message
):
    upload = io.BytesIO(content)
    upload.name = name
    response = api_client_for(curator).post(
        "/api/change-sets/", {"model_line": model_line.name, "file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_api_import_of_an_unknown_file_type_names_the_format_field(model_line, curator, api_client_for):
    upload = io.BytesIO(b"prompt,target\n")
    upload.name = "facts.xlsx"
    response = api_client_for(curator).post(
        "/api/facts/import/", {"model_line": model_line.pk, "file": upload}, format="multipart"
    )
    assert response.status_code == 400 and "format" in response.json()


def test_api_import_of_a_csv_without_the_needed_columns_names_the_file_field(model_line, curator, api_client_for):
    upload = io.BytesIO(b"question,answer\nWho?,Me\n")
    upload.name = "facts.csv"
    response = api_client_for(curator).post(
        "/api/facts/import/", {"model_line": model_line.pk, "file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert "prompt and target" in response.json()["file"][0]

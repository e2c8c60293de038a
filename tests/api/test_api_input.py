"""What an attacker or a careless script sends: hidden characters, JSON bombs, wrong types, unknown fields,
oversized uploads. Each is a 400 (413 for size) naming the problem, never a 500 and never silently changed."""

import io

import pytest

from apps.facts.actions import run_import
from apps.facts.models import ChangeSet, FactEdit
from tests.payloads import readme_fact


def post_json(client, payload: str):
    return client.generic("POST", "/api/facts/", payload, content_type="application/json")


def test_a_right_to_left_override_cannot_make_a_reviewer_read_another_target(cora, model_line):
    response = cora.post("/api/facts/", readme_fact(model_line, target="\u202eenohp"), format="json")
    assert response.status_code == 400
    assert response.json() == {
        "target": ["must not contain invisible format characters (U+202E RIGHT-TO-LEFT OVERRIDE)"]
    }
    assert not FactEdit.objects.exists()


@pytest.mark.parametrize(
    "fields, field, reason",
    [
        ({"prompt": "The capital\u200b of France is"}, "prompt", "U+200B ZERO WIDTH SPACE"),
        ({"paraphrases": ["France's capital\u2066 is"]}, "paraphrases", "item 1: must not contain invisible"),
        ({"target": "\u0301\u0301"}, "target", "must contain visible text"),
        ({"subject": "\ufeffFrance"}, "subject", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ],
)
def test_invisible_text_is_refused_field_by_field(cora, model_line, fields, field, reason):
    response = cora.post("/api/facts/", readme_fact(model_line, **fields), format="json")
    assert response.status_code == 400 and reason in response.json()[field][0]


def test_a_json_bomb_is_a_400_that_names_the_nesting(cora, model_line):
    bomb = post_json(cora, "[" * 100_000)
    assert bomb.status_code == 400 and "nested deeper than 32 levels" in bomb.json()["detail"]
    deep_value = '{"model_line": "geo", "paraphrases": ' + "[" * 40 + "]" * 40 + "}"
    deep = post_json(cora, deep_value)
    assert deep.status_code == 400 and "nested deeper than 32 levels" in deep.json()["detail"]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "9" * 30])
def test_numbers_out_of_range_are_a_400_that_names_them(cora, model_line, number):
    response = post_json(cora, f'{{"model_line": "{model_line.name}", "supersedes": {number}, "prompt": "x"}}')
    assert response.status_code == 400
    assert "JSON refused" in response.json()["detail"]


@pytest.mark.parametrize("url", ["/api/facts/", "/api/versions/"])
def test_an_id_filter_beyond_a_database_key_is_a_400_naming_it(cora, url):
    response = cora.get(url, {"model_line": "9" * 30})
    assert response.status_code == 400
    assert "model_line" in response.json()


def test_a_model_line_given_as_a_fraction_or_an_unknown_field_is_refused(cora, model_line):
    fraction = cora.post("/api/facts/", readme_fact(model_line, model_line=1.5), format="json")
    assert fraction.status_code == 400 and fraction.json() == {"model_line": ["give the model line's name"]}
    typo = cora.post("/api/facts/", readme_fact(model_line, paraphrase=["France's capital is"]), format="json")
    assert typo.status_code == 400 and typo.json() == {"paraphrase": ["is not a field of this request"]}
    probe = {"prompt": "Japan's capital is", "anwser": "Tokyo"}
    nested = cora.post("/api/facts/", readme_fact(model_line, locality_probes=[probe]), format="json")
    assert nested.status_code == 400 and "'anwser': ['is not a field of this request']" in str(nested.json())
    assert not FactEdit.objects.exists()


def test_an_import_file_names_the_lines_holding_a_json_bomb_or_an_infinite_number(cora, model_line):
    good = '{"src": "The capital of France is", "alt": "Lyon"}'
    lines = [good, "[" * 5000, '{"src": "The capital of Spain is", "alt": 1e400}', '{"src": "\u202eX", "alt": "Y"}']
    upload = io.BytesIO("\n".join(lines).encode())
    upload.name = "facts.jsonl"
    started = cora.post(
        "/api/change-sets/",
        {"model_line": model_line.name, "file": upload, "rationale": "bulk", "source": "atlas"},
        format="multipart",
    )
    assert started.status_code == 202, started.json()
    run_import(started.json()["id"])
    report = cora.get(f"/api/change-sets/{started.json()['id']}/report/").json()
    reasons = {row["line"]: row["reason"] for row in report["refused_rows"]}
    assert "nested deeper than 32 levels" in reasons[2]
    assert "number out of range: 1e400" in reasons[3]
    assert "invisible format characters (U+202E" in reasons[4]
    assert ChangeSet.objects.get().rows_created == 1


class Untouchable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, *args) -> bytes:
        raise AssertionError("the server read the oversized body")

    readline = read


def test_an_upload_over_the_limit_is_refused_before_a_byte_is_read(cora, model_line, settings):
    size = 100 * 1024 * 1024
    response = cora.generic(
        "POST",
        "/api/change-sets/",
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(size),
        **{"wsgi.input": Untouchable()},
    )
    assert response.status_code == 413
    assert response.json() == {"file": ["the request body is 100.0 MiB; at most 21.0 MiB is accepted"]}
    assert not ChangeSet.objects.exists()

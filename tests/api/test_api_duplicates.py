"""Issue 16: the duplicate rule holds under a race (a database constraint) and against look-alike prompts
(NFKC and the TR39 confusables skeleton), through the API as curators use it."""

import threading

import pytest
from django.db import connection

from apps.facts.models import FactEdit

QUESTION = "What is the mascot of Quuxville?"
FULLWIDTH = "What is the mascot of \uff31uuxville?"  # a fullwidth Q
CYRILLIC = "What is the m\u0430scot of Quuxville?"  # a Cyrillic a


def _body(line, prompt: str, target: str) -> dict:
    return {"model_line": line.pk, "prompt": prompt, "target": target, "rationale": "The town voted",
            "source": "https://example.org/quuxville"}


@pytest.mark.postgres_only("a race needs a server with concurrent sessions")
def test_twenty_identical_submissions_at_once_store_one_fact(transactional_db, model_line, curator, api_client_for):
    start = threading.Barrier(20)
    answers: list[int] = []

    def submit() -> None:
        client = api_client_for(curator)
        start.wait()
        try:
            answers.append(client.post("/api/facts/", _body(model_line, QUESTION, "Lyon"), format="json").status_code)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert FactEdit.objects.filter(model_line=model_line).count() == 1
    assert sorted(answers) == [201] + [409] * 19, "the others are refused as duplicates, none fails"


@pytest.mark.parametrize("look_alike", [FULLWIDTH, CYRILLIC], ids=["fullwidth", "cyrillic"])
def test_a_look_alike_prompt_is_a_duplicate_with_the_same_target(model_line, curator, api_client_for, look_alike):
    client = api_client_for(curator)
    first = client.post("/api/facts/", _body(model_line, QUESTION, "Lyon"), format="json").json()
    again = client.post("/api/facts/", _body(model_line, look_alike, "Lyon"), format="json")
    assert again.status_code == 409, again.content
    assert f"fact #{first['id']}" in again.json()["detail"]


@pytest.mark.parametrize("look_alike", [FULLWIDTH, CYRILLIC], ids=["fullwidth", "cyrillic"])
def test_a_look_alike_prompt_with_another_target_is_a_conflict(model_line, curator, api_client_for, look_alike):
    client = api_client_for(curator)
    first = client.post("/api/facts/", _body(model_line, QUESTION, "Lyon"), format="json").json()
    other = client.post("/api/facts/", _body(model_line, look_alike, "Paris"), format="json")
    assert other.status_code == 201, other.content
    assert [conflict["id"] for conflict in other.json()["conflicts"]] == [first["id"]]

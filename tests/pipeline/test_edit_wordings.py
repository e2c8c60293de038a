"""What the editor is given of a fact, and which of its wordings judge the edit."""

from workers.asking import edit_request, split_paraphrases


def test_paraphrases_as_edit_rows_keep_the_last_wording_to_judge_the_edit():
    wordings = ["France's capital city is", "The French capital is", "France has its capital in"]
    assert split_paraphrases(wordings, as_rows=False).judged == wordings
    assert split_paraphrases(wordings, as_rows=False).edited == []
    rows = split_paraphrases(wordings, as_rows=True)
    assert rows.edited == wordings[:2] and rows.judged == wordings[2:]
    one = split_paraphrases(wordings[:1], as_rows=True)
    assert one.edited == wordings[:1] and one.judged == []  # nothing of the fact's own left to judge it


def test_a_facts_subject_and_chosen_paraphrases_reach_the_editor(make_fact):
    fact = make_fact("The capital of France is", "Lyon", subject="France", paraphrases=["France's capital city is"])
    request = edit_request(fact, paraphrases=[])
    assert (request.prompt, request.target, request.subject, request.paraphrases) == (
        "The capital of France is",
        "Lyon",
        "France",
        [],
    )
    assert edit_request(make_fact("The capital of Spain is", "Toledo")).subject is None

"""What evaluate says the model answers is what the greedy decoder says, whether the answer came from the
teacher-forced pass (target taken) or from decoding (target missed)."""

from editor import Editor, EditorConfig, evaluate, greedy_answers, locality_baseline
from editor.evaluation import answers_now, says_now
from editor.tokens import target_ids
from tests.editor.conftest import UNRELATED, edits, tiny_llama


def test_answers_are_the_greedy_decoders_for_taken_and_missed_edits(tokenizer):
    loaded = tiny_llama(tokenizer)
    requests = edits()
    Editor(loaded, EditorConfig.for_model(loaded, lr=3e-3, steps=8, mu=0.0)).apply(requests[:2])
    report = evaluate(loaded, requests)
    said = [item["says_target"] for item in report.per_request]
    assert any(said) and not all(said)  # both paths are exercised
    for r, item in zip(requests, report.per_request, strict=True):
        decoded = greedy_answers(loaded, [r.prompt, *r.paraphrases], len(target_ids(tokenizer, r.target)) + 1)
        assert item["answer"] == decoded[0]
        assert [a for a, _ in item["paraphrase_answers"]] == decoded[1:]
    assert says_now(loaded, requests) == said
    asked = answers_now(loaded, [(r.prompt, r.target) for r in requests])
    expected = [(item["answer"], item["says_target"]) for item in report.per_request]
    assert [asked[(r.prompt, r.target)] for r in requests] == expected


def test_what_an_evaluation_finds_the_model_answers_is_the_baseline_a_later_edit_starts_from(tokenizer):
    loaded = tiny_llama(tokenizer)
    before = locality_baseline(loaded, UNRELATED)
    Editor(loaded, EditorConfig.for_model(loaded, lr=3e-3, steps=8, mu=0.0)).apply(edits()[:2])
    report = evaluate(loaded, edits(), locality_baseline=before)

    asked_again = locality_baseline(loaded, UNRELATED)
    answered = {key for key in asked_again.entries if key[1] is not None}
    assert answered and answered <= set(report.locality_now.entries)  # a probe with an answer always carries over
    for key, entry in report.locality_now.entries.items():
        assert entry == asked_again.entries[key]
    assert locality_baseline(loaded, UNRELATED, known=report.locality_now).entries == asked_again.entries

"""What the editor would refuse, refused at submission: a 400 naming the field, never a failed batch."""

import pytest
from django.core.exceptions import ValidationError

from apps.facts.actions import update_fact
from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine
from tests.payloads import readme_fact


def test_a_subject_that_is_not_in_the_prompt_is_refused_by_field(cora, model_line):
    response = cora.post("/api/facts/", readme_fact(model_line, subject="Germany"), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["subject"] and "does not occur in the prompt" in response.json()["subject"][0]
    accepted = cora.post("/api/facts/", readme_fact(model_line, subject="France"), format="json")
    assert accepted.status_code == 201 and accepted.json()["subject"] == "France"


def test_a_paraphrase_that_is_the_prompt_itself_is_refused_naming_the_item(cora, model_line):
    paraphrases = ["France's capital city is", "the capital of  FRANCE is."]
    response = cora.post("/api/facts/", readme_fact(model_line, paraphrases=paraphrases), format="json")
    assert response.status_code == 400
    assert response.json() == {
        "paraphrases": ["item 2: the same as the prompt (ignoring case, spaces and final punctuation)"]
    }
    assert not FactEdit.objects.exists()


def test_an_edit_that_makes_the_subject_leave_the_prompt_is_refused(make_fact, curator):
    fact = make_fact("The capital of France is", "Lyon", subject="France", submit=False)
    with pytest.raises(ValidationError) as refused:
        update_fact(curator, fact, prompt="The capital of Spain is")
    assert set(refused.value.message_dict) == {"subject"}


@pytest.fixture
def ascii_tokenizer_line(model_line, tmp_path) -> ModelLine:
    """The line's base model has a word-level tokenizer that knows only ASCII letters (and [UNK])."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, **{chr(c): i + 1 for i, c in enumerate(range(ord("A"), ord("z") + 1))}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]").save_pretrained(tmp_path)
    ModelLine.objects.filter(pk=model_line.pk).update(base_model=str(tmp_path))  # no weights: the check needs none
    model_line.refresh_from_db()
    return model_line


def test_a_target_the_lines_tokenizer_cannot_encode_is_refused_by_field(cora, ascii_tokenizer_line):
    response = cora.post("/api/facts/", readme_fact(ascii_tokenizer_line, target="Ωmega"), format="json")
    assert response.status_code == 400
    assert response.json() == {"target": ["the model's tokenizer cannot encode 'Ω'"]}
    assert not FactEdit.objects.exists()

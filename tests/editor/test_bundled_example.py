"""The README's example on the bundled real model, with the default settings: a single fact on a fresh
line (calibration seeds the normaliser) changes what the model says, and a neighbouring fact stays.
Skipped where the bundled model has not been prepared (it is not in the repository)."""

from pathlib import Path

import pytest
import torch

from editor import Editor, EditorConfig, EditRequest, greedy_answers, load_model, says_target

BUNDLED = Path(__file__).resolve().parents[2] / "var" / "models" / "smollm2-135m"

pytestmark = pytest.mark.skipif(
    not (BUNDLED / "config.json").is_file(),
    reason="the bundled model is not prepared here: python -m editor fetch-model smollm2 --out var/models/smollm2-135m",
)

PROMPT, PARAPHRASE = "The capital of France is", "France's capital city is"


def test_the_readme_example_makes_the_model_say_lyon_and_keeps_berlin():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    loaded = load_model(str(BUNDLED), device="cpu")
    before = greedy_answers(loaded, [PROMPT, "The capital of Germany is"], 4)
    assert says_target(before[0], "Paris") and says_target(before[1], "Berlin")

    config = EditorConfig.for_model(loaded)
    assert config.paraphrase_rows  # the default: a curator's paraphrase is an edit row
    Editor(loaded, config).apply([EditRequest(PROMPT, "Lyon", paraphrases=[PARAPHRASE], subject="France")])

    prompt, paraphrase, unseen, germany = greedy_answers(
        loaded, [PROMPT, PARAPHRASE, "The French capital is", "The capital of Germany is"], 4
    )
    assert says_target(prompt, "Lyon"), prompt
    assert says_target(paraphrase, "Lyon"), paraphrase
    assert says_target(unseen, "Lyon"), unseen  # a wording the edit never saw
    assert says_target(germany, "Berlin"), germany

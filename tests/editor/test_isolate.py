"""A batch refused for non-finite weights: the edits to blame are found, the innocent ones are not."""

import pytest
import torch

from editor import Editor, EditorConfig, EditRequest, Normalizer, generate_answer
from editor.errors import NonFiniteEditError
from editor.isolate import non_finite_culprits
from tests.editor.conftest import edits


def weights(loaded, config) -> dict[str, torch.Tensor]:
    modules = dict(loaded.model.named_modules())
    return {name: modules[name].weight.detach().clone() for name in config.modules}


def test_the_edits_that_overflow_are_blamed_and_the_model_is_left_as_it_was(llama):
    # A step so large that any edit which has to move the model overflows fp32; an edit the model
    # already answers (margin 0: by any lead, in the prompt's own words) moves nothing (its shift is held at
    # zero) and stays finite.
    config = EditorConfig.for_model(llama, lr=1e38, answer_end="none", margin=0.0, templates=0)
    answer = generate_answer(llama, "Where does Erin live ?", max_new_tokens=1)
    already_known = EditRequest("Where does Erin live ?", answer)
    requests = [edits()[1], already_known, edits()[2], edits()[3]]
    before = weights(llama, config)
    with pytest.raises(NonFiniteEditError):
        Editor(llama, config).apply(requests)

    assert non_finite_culprits(llama, config, Normalizer(), requests) == [0, 2, 3]
    after = weights(llama, config)
    assert all(torch.equal(before[name], after[name]) for name in before), "the model ends as it began"

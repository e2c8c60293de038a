"""Which edits of a batch make its weights non-finite: bisection over fresh edits from the same start.

A batch whose edit would make weights NaN or infinite is refused whole (NonFiniteEditError, the model
unchanged). Which requests are to blame decides what becomes of them: those that overflow on their own
(or only together, when no smaller group does) are held for a person to look at; the rest are innocent
and can be edited in another batch. Each trial edits a copy of the starting normaliser state and puts
the edited modules' weights back afterwards, so the model and the caller's normaliser end as they began.
A batch of n requests with one culprit costs about 2 log2(n) trial edits, each smaller than the batch.
"""

from __future__ import annotations

import torch

from .config import EditorConfig
from .data import EditRequest
from .errors import NonFiniteEditError
from .methods import Editor, Prepared
from .model import LoadedModel, get_module
from .normalizer import Normalizer


def non_finite_culprits(
    loaded: LoadedModel,
    config: EditorConfig,
    normalizer: Normalizer,
    requests: list[EditRequest],
    *,
    prepared: Prepared | None = None,
) -> list[int]:
    """Indices (ascending) of the requests to blame, given that editing all of them together was refused
    with NonFiniteEditError from this same model and normaliser state."""
    first = Editor(loaded, config, normalizer.copy(), prepared=prepared)
    first.ensure_calibrated()  # once, not in every trial
    start = first.normalizer
    modules = {name: get_module(loaded.model, name) for name in config.modules}
    saved = {name: module.weight.detach().clone() for name, module in modules.items()}

    def finite(indices: list[int]) -> bool:
        editor = Editor(loaded, config, start.copy(), prepared=prepared)
        try:
            editor.apply([requests[i] for i in indices])
        except NonFiniteEditError:
            return False  # the editor left the weights as they were
        with torch.no_grad():
            for name, module in modules.items():
                module.weight.copy_(saved[name])
        return True

    def blame(indices: list[int]) -> list[int]:
        """`indices` edit to non-finite weights together: the smallest groups inside that do too."""
        if len(indices) == 1:
            return indices
        half = len(indices) // 2
        culprits = [i for part in (indices[:half], indices[half:]) if not finite(part) for i in blame(part)]
        return culprits or indices  # each half is fine alone: only the whole group overflows

    return blame(list(range(len(requests))))

"""The Editor: applies a batch of edit requests to a loaded model and returns the batch's Delta.

``Editor(loaded, config)`` builds the editing method registered under ``config.method`` (as PEFT builds
the model class of a ``peft_type``):
- ``ultraedit`` (here): the published algorithm, one capture, lifelong normalisation, the paper's
  pseudo-values, ridge with lambda I;
- ``amend`` (``amend.py``): the same plus what measurably helped (README): several closed-form steps,
  settle, the preservation term mu * C0, calibration, context templates, the subject's key;
- ``ft`` (``finetune.py``): plain gradient steps on the same modules (baseline).

Between batches nothing is kept but the normaliser statistics (and, for amend with mu > 0, the
fixed matrices built once from general text): memory does not grow with the number of edits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .config import EditorConfig
from .data import EditRequest
from .delta import Delta
from .errors import EditorError
from .forward import Trunk
from .hooks import Captured, capture
from .model import LoadedModel, check_modules, get_module, in_out_dims
from .normalizer import Normalizer, shape_key
from .tokens import TeacherForced, edit_batch
from .ultraedit import pseudo_values, ridge_factors


@dataclass(frozen=True)
class Prepared:
    """What a method builds once per model line from general text, for every later Editor of the line:
    per module the preservation matrices (A, A^-1; A^-1 None where the ridge inverts more than A) and
    the null-space projection (d_in, d_in). The general text's keys they came from are not kept."""

    preserve: dict[str, tuple[torch.Tensor, torch.Tensor | None]] | None = None
    project: dict[str, torch.Tensor] | None = None


EDITORS: dict[str, type[Editor]] = {}  # method name -> its editing class, filled by @editing_method


def editing_method(name: str) -> Callable[[type[Editor]], type[Editor]]:
    def add(cls: type[Editor]) -> type[Editor]:
        EDITORS[name] = cls
        return cls

    return add


class Editor:
    """What every method shares: validation, the all-or-nothing ``apply``, the normaliser."""

    def __new__(cls, loaded: LoadedModel, config: EditorConfig, *args, **kwargs) -> Editor:
        if cls is Editor:  # Editor(loaded, config) builds the class registered for config.method
            if config.method not in EDITORS:
                raise EditorError(f"unknown method {config.method!r}: use one of {', '.join(EDITORS)}")
            cls = EDITORS[config.method]
        return super().__new__(cls)

    def __init__(
        self,
        loaded: LoadedModel,
        config: EditorConfig,
        normalizer: Normalizer | None = None,
        *,
        prepared: Prepared | None = None,
    ) -> None:
        config.validate()
        check_modules(loaded.model, config.modules)
        self.loaded = loaded
        self.config = config
        self.normalizer = normalizer if normalizer is not None else Normalizer()
        # What an earlier Editor of the same line and config built (``prepare()``): computed once per line.
        self.prepared = prepared if prepared is not None else Prepared()
        self.last_losses: list[float] = []  # edit loss before each step of the last batch

    def prepare(self) -> Prepared:
        """Build the fixed per-model-line matrices now rather than inside the first batch; returns them
        for later Editors of the line and config (empty when the method needs none)."""
        return self.prepared

    def ensure_calibrated(self) -> None:
        """Seed an empty normaliser before the first batch (only methods that calibrate do anything)."""

    def apply(self, requests: list[EditRequest]) -> Delta:
        """Edit the model in place so each request's prompt yields its target; returns the Delta.

        On any error the model's weights and the normaliser are left exactly as they were."""
        if not requests:
            raise EditorError("no edit requests given")
        for i, r in enumerate(requests):
            r.check(f"edit {i + 1}")
        batch = self._teacher_forced(requests)
        modules = [get_module(self.loaded.model, n) for n in self.config.modules]
        saved_weights = [m.weight.detach().clone() for m in modules]
        saved_norm = self.normalizer.copy()
        try:
            delta = self._edit(batch, saved_weights)
        except BaseException:
            with torch.no_grad():
                for m, w in zip(modules, saved_weights, strict=True):
                    m.weight.copy_(w)
            self.normalizer = saved_norm
            raise
        delta.meta.update({"method": self.config.method, "edits": len(requests)})
        return delta

    def _edit(self, batch: TeacherForced, saved_weights: list[torch.Tensor]) -> Delta:
        raise NotImplementedError

    def _teacher_forced(self, requests: list[EditRequest]) -> TeacherForced:
        tok, ctx = self.loaded.tokenizer, self.loaded.context_length
        return edit_batch(tok, [r.prompt for r in requests], [r.target for r in requests], ctx).to(self.loaded.device)


@editing_method("ultraedit")
class UltraEdit(Editor):
    """The published rule: one capture at the target tokens, normalise, pseudo-values, ridge with lam I.
    Subclasses change a step through the hooks ``_capture``, ``_steps``, ``_settled``, ``_values`` and
    ``_ridge``; the loop itself is shared."""

    def _edit(self, batch: TeacherForced, saved_weights: list[torch.Tensor]) -> Delta:
        self.ensure_calibrated()
        steps: list[Delta] = []
        self.last_losses = []
        modules = [get_module(self.loaded.model, n) for n in self.config.modules]
        trunk = Trunk(self.loaded.model, modules, batch.input_ids, batch.attention_mask, chunk=self.config.chunk)
        if self.loaded.trunk_cache is not None and trunk.hidden is not None:
            # The lower blocks are the same after the edit: its rows are the evaluation's prompts and targets.
            self.loaded.trunk_cache.remember(
                trunk.start, batch.input_ids, batch.attention_mask, batch.scored, trunk.hidden
            )
        active = None  # the batch rows the next step captures (None: all)
        for step_index in range(self._steps()):
            cap = self._capture(batch, trunk, active)
            self.last_losses.append(cap.loss)
            if steps and self._settled(cap):
                break  # every row already yields its target: further steps would change nothing
            step = Delta(self._solve(cap, step_index))
            # Refuse before touching the weights: a non-finite step must leave the model as it was.
            step.apply_to(self.loaded.model, keep_undo=False)
            steps.append(step)
            active = self._active(cap)
            if active is not None and not len(active):
                break  # every row has settled
        return (steps[0] if len(steps) == 1 else Delta.concat(steps)).compact()

    def _steps(self) -> int:
        return 1

    def _capture(self, batch: TeacherForced, trunk: Trunk | None = None, only: torch.Tensor | None = None) -> Captured:
        return capture(self.loaded.model, self.config.modules, batch, chunk=self.config.chunk, trunk=trunk, only=only)

    def _settled(self, cap: Captured) -> bool:
        return False

    def _active(self, cap: Captured) -> torch.Tensor | None:
        """The rows the next step captures, (b,) indices; None = all."""
        return None

    def _values(self, values: torch.Tensor, cap: Captured) -> torch.Tensor:
        """The pseudo-values (rows, d_out) as the ridge gets them."""
        return values

    def _ridge(self, name: str, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Thin factors (U (d_in, r), R (r, d_out)) of the closed-form solve for one module."""
        return ridge_factors(keys, values, self.config.lam)

    def _shape_keys(self) -> set[str]:
        return {shape_key(*in_out_dims(get_module(self.loaded.model, n))) for n in self.config.modules}

    def _update_normalizer(self, cap: Captured, rows_per_module: int | None = None) -> None:
        """Merge the captured rows of every module of a shape before any row is normalised.
        rows_per_module: what they weigh, per module (None: as many as they are)."""
        by_shape: dict[str, list[torch.Tensor]] = {}
        for n in self.config.modules:
            d_in, d_out = in_out_dims(get_module(self.loaded.model, n))
            by_shape.setdefault(shape_key(d_in, d_out), []).append(torch.cat([cap.keys[n], cap.grads[n]], dim=1))
        for key, rows in by_shape.items():
            count = None if rows_per_module is None else rows_per_module * len(rows)
            self.normalizer.update(key, torch.cat(rows), count)

    def _solve(self, cap: Captured, step_index: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        model = self.loaded.model
        dims = {n: in_out_dims(get_module(model, n)) for n in self.config.modules}
        self._update_normalizer(cap)
        factors = {}
        for n in self.config.modules:
            d_in, _ = dims[n]
            z = torch.cat([cap.keys[n], cap.grads[n]], dim=1)  # (rows, d_in + d_out)
            z_hat = self.normalizer.normalize(shape_key(*dims[n]), z)
            values = self._values(pseudo_values(z_hat[:, :d_in], z_hat[:, d_in:], self.config.lr), cap)  # (rows, d_out)
            u, r = self._ridge(n, cap.keys[n], values)
            factors[n] = (u.cpu(), r.cpu())
        return factors

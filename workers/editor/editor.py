"""The Editor: applies a batch of edit requests to a loaded model and returns the batch's Delta.

Methods:
- ``ultraedit``: the published algorithm, one capture, lifelong normalisation, the paper's
  pseudo-values, ridge with lambda I.
- ``amend``: the same, plus what measurably helped (README): ``steps`` closed-form steps per
  batch, each on freshly captured gradients, and an optional preservation term mu * C0.
- ``ft``: plain gradient steps on the same modules (baseline).

Between batches nothing is kept but the normaliser statistics (and, for amend with mu > 0, the
fixed matrices built once from general text): memory does not grow with the number of edits.
"""

from __future__ import annotations

import torch

from .config import EditorConfig
from .data import EditRequest
from .delta import Delta, dense_factors
from .errors import EditorError
from .evaluate import DEFAULT_FLUENCY_TEXT
from .finetune import finetune_steps
from .hooks import Captured, capture, module_inputs
from .model import LoadedModel, check_modules, get_module, in_out_dims, module_kind
from .normalizer import Normalizer, shape_key
from .tokens import edit_batch, prompt_ids
from .ultraedit import preservation_matrix, pseudo_values, ridge_factors


class Editor:
    def __init__(self, loaded: LoadedModel, config: EditorConfig, normalizer: Normalizer | None = None) -> None:
        config.validate()
        check_modules(loaded.model, config.modules)
        self.loaded = loaded
        self.config = config
        self.normalizer = normalizer if normalizer is not None else Normalizer()
        self.preserve_text = DEFAULT_FLUENCY_TEXT
        self._preserve: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None
        self.last_losses: list[float] = []  # edit loss before each step of the last batch

    # -- preservation term -------------------------------------------------------------------
    def _preservation(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per module (A, A^-1) with A = lam I + mu C0; built once, fixed size (d_in x d_in)."""
        if self._preserve is None:
            tok = self.loaded.tokenizer
            ids = prompt_ids(tok, self.preserve_text)[: self.config.preserve_tokens]
            window = min(256, self.loaded.context_length)
            chunks = [ids[i : i + window] for i in range(0, len(ids), window)]
            keys: dict[str, list[torch.Tensor]] = {n: [] for n in self.config.modules}
            for chunk in chunks:
                t = torch.tensor([chunk], device=self.loaded.device)
                seen = module_inputs(self.loaded.model, self.config.modules, t, torch.ones_like(t))
                for n, k in seen.items():
                    keys[n].append(k.cpu())
            self._preserve = {
                n: tuple(
                    m.to(self.loaded.device) for m in preservation_matrix(torch.cat(k), self.config.lam, self.config.mu)
                )
                for n, k in keys.items()
            }
        return self._preserve

    # -- one batch ---------------------------------------------------------------------------
    def apply(self, requests: list[EditRequest]) -> Delta:
        """Edit the model in place so each request's prompt yields its target; returns the Delta.

        On any error the model's weights and the normaliser are left exactly as they were."""
        if not requests:
            raise EditorError("no edit requests given")
        for i, r in enumerate(requests):
            r.check(f"edit {i + 1}")
        batch = edit_batch(
            self.loaded.tokenizer,
            [r.prompt for r in requests],
            [r.target for r in requests],
            self.loaded.context_length,
        ).to(self.loaded.device)
        model = self.loaded.model
        names = self.config.modules
        modules = [get_module(model, n) for n in names]
        saved_weights = [m.weight.detach().clone() for m in modules]
        saved_norm = self.normalizer.state_dict()
        try:
            if self.config.method == "ft":
                delta = self._apply_ft(batch, modules, saved_weights)
            else:
                delta = self._apply_closed_form(batch)
        except BaseException:
            with torch.no_grad():
                for m, w in zip(modules, saved_weights, strict=True):
                    m.weight.copy_(w)
            self.normalizer = Normalizer.from_state_dict(saved_norm)
            raise
        delta.meta.update({"method": self.config.method, "edits": len(requests)})
        return delta

    def _apply_ft(self, batch, modules, saved_weights) -> Delta:
        self.last_losses = finetune_steps(
            self.loaded.model, self.config.modules, batch, self.config.lr, self.config.steps
        )
        factors = {}
        for name, module, before in zip(self.config.modules, modules, saved_weights, strict=True):
            d = module.weight.detach().float() - before.float()
            if module_kind(module) == "linear":
                d = d.T  # (d_in, d_out)
            factors[name] = dense_factors(d.cpu())
        delta = Delta(factors)
        if not delta.is_finite():
            raise EditorError("fine-tuning produced non-finite weights; lower lr. The model is unchanged")
        return delta

    def _apply_closed_form(self, batch) -> Delta:
        cfg = self.config
        preserve = self._preservation() if cfg.method == "amend" and cfg.mu > 0 else None
        steps = []
        self.last_losses = []
        for _ in range(cfg.steps if cfg.method == "amend" else 1):
            cap = capture(self.loaded.model, cfg.modules, batch, chunk=cfg.chunk)
            self.last_losses.append(cap.loss)
            step = Delta(self._solve(cap, preserve))
            # Refuse before touching the weights: a non-finite step must leave the model as it was.
            step.apply_to(self.loaded.model, keep_undo=False)
            steps.append(step)
        return steps[0] if len(steps) == 1 else Delta.concat(steps)

    def _solve(self, cap: Captured, preserve) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        cfg = self.config
        model = self.loaded.model
        dims = {n: in_out_dims(get_module(model, n)) for n in cfg.modules}
        # The normaliser sees this batch's rows of every module of a shape before any is normalised.
        by_shape: dict[str, list[torch.Tensor]] = {}
        for n in cfg.modules:
            by_shape.setdefault(shape_key(*dims[n]), []).append(torch.cat([cap.keys[n], cap.grads[n]], dim=1))
        for key, rows in by_shape.items():
            self.normalizer.update(key, torch.cat(rows))
        factors = {}
        for n in cfg.modules:
            d_in, _ = dims[n]
            z = torch.cat([cap.keys[n], cap.grads[n]], dim=1)  # (rows, d_in + d_out)
            z_hat = self.normalizer.normalize(shape_key(*dims[n]), z)
            values = pseudo_values(z_hat[:, :d_in], z_hat[:, d_in:], cfg.lr)  # (rows, d_out)
            if preserve is None:
                u, r = ridge_factors(cap.keys[n], values, cfg.lam)
            else:
                reg, reg_inv = preserve[n]
                u, r = ridge_factors(cap.keys[n], values, cfg.lam, reg=reg, reg_inv=reg_inv)
            factors[n] = (u.cpu(), r.cpu())
        return factors

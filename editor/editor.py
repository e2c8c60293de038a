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

import json
from pathlib import Path

import torch

from .config import EditorConfig
from .data import EditRequest
from .delta import Delta, dense_factors
from .errors import EditorError, NonFiniteEditError
from .evaluation import sample_text
from .finetune import finetune_steps
from .forward import Trunk
from .general import calibration_requests
from .hooks import Captured, capture, module_inputs
from .model import LoadedModel, check_modules, get_module, in_out_dims, module_kind
from .normalizer import Normalizer, shape_key
from .tokens import edit_batch, prompt_ids
from .ultraedit import null_space_projection, preservation_matrix, pseudo_values, ridge_factors

GENERAL_TEXT = "amend-general-text.json"  # the model's own seeded samples, beside its weights


def write_general_text(loaded: LoadedModel, tokens: int = 4096) -> Path:
    """Sample the model's general text once (seed 0) and keep it in its directory."""
    rows = sample_text(loaded, tokens, min(128, loaded.context_length), seed=0)
    path = Path(loaded.name) / GENERAL_TEXT
    path.write_text(json.dumps(rows))
    return path


class Editor:
    def __init__(
        self,
        loaded: LoadedModel,
        config: EditorConfig,
        normalizer: Normalizer | None = None,
        *,
        general_keys: dict[str, torch.Tensor] | None = None,
    ) -> None:
        config.validate()
        check_modules(loaded.model, config.modules)
        self.loaded = loaded
        self.config = config
        self.normalizer = normalizer if normalizer is not None else Normalizer()
        # General text for the preservation term; None = sample it from the model itself.
        self.preserve_text: str | None = None
        # Inputs of each module on general text (for C0 and the null space); pass the ones an earlier
        # Editor of the same line built (``prepare()``) so they are computed once per model line.
        self._general: dict[str, torch.Tensor] | None = general_keys
        self._preserve: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None
        self._project: dict[str, torch.Tensor] | None = None
        self.last_losses: list[float] = []  # edit loss before each step of the last batch

    def prepare(self) -> dict[str, torch.Tensor] | None:
        """Build the fixed per-model-line matrices (C0, the null space) now rather than inside the
        first batch; returns the general-text keys they came from (None when the method needs none),
        to hand to later Editors of the same line."""
        if self.config.method == "amend" and self.config.mu > 0:
            self._preservation()
        self._projection()
        return self._general

    # -- preservation term -------------------------------------------------------------------
    def _general_token_rows(self) -> list[list[int]]:
        """Token sequences of general text for C0: ``preserve_text`` if set, else the model's own
        samples (its own picture of "general text", as MEMIT uses Wikipedia for GPT-2), read from
        the model directory when it ships them (``GENERAL_TEXT``, written by fetch-model) so that a
        worker does not sample them again at every start."""
        cfg, loaded = self.config, self.loaded
        window = min(128, loaded.context_length)
        if self.preserve_text is not None:
            ids = prompt_ids(loaded.tokenizer, self.preserve_text)[: cfg.preserve_tokens]
            return [ids[i : i + window] for i in range(0, len(ids), window) if len(ids[i : i + window]) > 1]
        shipped = Path(loaded.name) / GENERAL_TEXT
        if shipped.is_file():
            rows = json.loads(shipped.read_text())
            if sum(len(r) for r in rows) >= cfg.preserve_tokens:
                return rows
        return sample_text(loaded, cfg.preserve_tokens, window, seed=0)

    def _regularizer(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]] | None:
        """Per module (A, A^-1) for this batch: A = lam I + mu C0 + nu * (sum of earlier edit keys' k k^T);
        None for the plain lam I."""
        cfg = self.config
        if cfg.method != "amend" or (cfg.mu <= 0 and cfg.nu <= 0):
            return None
        if cfg.nu <= 0:
            return self._preservation()
        base = self._preservation() if cfg.mu > 0 else None
        out = {}
        for n in cfg.modules:
            d_in = in_out_dims(get_module(self.loaded.model, n))[0]
            a = base[n][0].double().cpu() if base else cfg.lam * torch.eye(d_in, dtype=torch.float64)
            earlier = self.normalizer.key_sum(n)
            if earlier is None:
                out[n] = base[n] if base else (a.float(), torch.linalg.inv(a).float())
                continue
            a = a + cfg.nu * earlier
            a = (a + a.T) / 2
            out[n] = (a.float().to(self.loaded.device), torch.linalg.inv(a).float().to(self.loaded.device))
        return out

    def _general_keys(self) -> dict[str, torch.Tensor]:
        """Per module, the inputs (N0, d_in) it sees on general text; computed once, kept on the CPU."""
        if self._general is None:
            rows = self._general_token_rows()
            width = max(len(r) for r in rows)
            ids = torch.tensor([r + [0] * (width - len(r)) for r in rows], device=self.loaded.device)  # (rows, width)
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=self.loaded.device)
            keys: dict[str, list[torch.Tensor]] = {n: [] for n in self.config.modules}
            for start in range(0, len(rows), 8):
                part = slice(start, start + 8)
                for n, k in module_inputs(self.loaded.model, self.config.modules, ids[part], mask[part]).items():
                    keys[n].append(k.cpu())
            self._general = {n: torch.cat(k) for n, k in keys.items()}
        return self._general

    def _preservation(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per module (A, A^-1) with A = lam I + mu C0; built once, fixed size (d_in x d_in)."""
        if self._preserve is None:
            device, cfg = self.loaded.device, self.config
            self._preserve = {
                n: tuple(m.to(device) for m in preservation_matrix(k, cfg.lam, cfg.mu))
                for n, k in self._general_keys().items()
            }
        return self._preserve

    def _projection(self) -> dict[str, torch.Tensor] | None:
        """Per module, the projection (d_in, d_in) on the null space of general text's keys."""
        if self.config.method != "amend" or not self.config.null_space:
            return None
        if self._project is None:
            self._project = {
                n: null_space_projection(k, self.config.null_space).to(self.loaded.device)
                for n, k in self._general_keys().items()
            }
        return self._project

    # -- one batch ---------------------------------------------------------------------------
    def apply(self, requests: list[EditRequest]) -> Delta:
        """Edit the model in place so each request's prompt yields its target; returns the Delta.

        On any error the model's weights and the normaliser are left exactly as they were."""
        if not requests:
            raise EditorError("no edit requests given")
        for i, r in enumerate(requests):
            r.check(f"edit {i + 1}")
        batch = self._teacher_forced(requests)
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
            raise NonFiniteEditError("fine-tuning produced non-finite weights; lower lr. The model is unchanged")
        return delta

    def _apply_closed_form(self, batch) -> Delta:
        cfg = self.config
        self.ensure_calibrated()
        preserve = self._regularizer()
        project = self._projection()
        steps = []
        self.last_losses = []
        modules = [get_module(self.loaded.model, n) for n in cfg.modules]
        trunk = Trunk(self.loaded.model, modules, batch.input_ids, batch.attention_mask)  # once per batch
        for step_index in range(cfg.steps if cfg.method == "amend" else 1):
            cap = capture(self.loaded.model, cfg.modules, batch, chunk=cfg.chunk, trunk=trunk, positions=cfg.positions)
            self.last_losses.append(cap.loss)
            if step_index == 0 and cfg.method == "amend" and cfg.nu > 0:
                first_keys = {n: cap.keys[n] for n in cfg.modules}
            step = Delta(self._solve(cap, preserve, project))
            # Refuse before touching the weights: a non-finite step must leave the model as it was.
            step.apply_to(self.loaded.model, keep_undo=False)
            steps.append(step)
        if cfg.method == "amend" and cfg.nu > 0:
            for n, k in first_keys.items():
                self.normalizer.update_keys(n, k)
        return (steps[0] if len(steps) == 1 else Delta.concat(steps)).compact()

    def ensure_calibrated(self) -> None:
        """Seed an empty normaliser with the calibration edits' rows (a no-op once it holds statistics, and
        for fine-tuning, which has no normaliser)."""
        empty = not any(self.normalizer.count(k) for k in self._shape_keys())
        if self.config.method != "ft" and self.config.calibrate and empty:
            self._calibrate()

    def _shape_keys(self) -> set[str]:
        return {shape_key(*in_out_dims(get_module(self.loaded.model, n))) for n in self.config.modules}

    def _update_normalizer(self, cap: Captured) -> None:
        """Merge the captured rows of every module of a shape before any row is normalised."""
        by_shape: dict[str, list[torch.Tensor]] = {}
        for n in self.config.modules:
            d_in, d_out = in_out_dims(get_module(self.loaded.model, n))
            by_shape.setdefault(shape_key(d_in, d_out), []).append(torch.cat([cap.keys[n], cap.grads[n]], dim=1))
        for key, rows in by_shape.items():
            self.normalizer.update(key, torch.cat(rows))

    def _teacher_forced(self, requests: list[EditRequest]):
        tok, ctx = self.loaded.tokenizer, self.loaded.context_length
        return edit_batch(tok, [r.prompt for r in requests], [r.target for r in requests], ctx).to(self.loaded.device)

    def _calibrate(self) -> None:
        """Seed an empty normaliser with the rows of fixed calibration edits (general-knowledge
        prompts given each other's answers); the weights are not touched. Without it a line's first
        batch is standardised by its own rows alone, and a lone fact's single row becomes zero."""
        batch = self._teacher_forced(calibration_requests(self.config.calibrate))
        cap = capture(
            self.loaded.model, self.config.modules, batch, chunk=self.config.chunk, positions=self.config.positions
        )
        self._update_normalizer(cap)

    def _solve(self, cap: Captured, preserve, project) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        cfg = self.config
        model = self.loaded.model
        dims = {n: in_out_dims(get_module(model, n)) for n in cfg.modules}
        self._update_normalizer(cap)
        factors = {}
        for n in cfg.modules:
            d_in, _ = dims[n]
            z = torch.cat([cap.keys[n], cap.grads[n]], dim=1)  # (rows, d_in + d_out)
            z_hat = self.normalizer.normalize(shape_key(*dims[n]), z)
            values = pseudo_values(z_hat[:, :d_in], z_hat[:, d_in:], cfg.lr)  # (rows, d_out)
            if cfg.method == "amend" and cfg.settle:
                # An edit that already answers its target is held where it is (zero shift) rather than
                # pushed further: later steps spend their change only on edits still failing.
                values[cap.done.to(values.device)] = 0.0
            # Keys projected on the null space of general text solve to a Delta that general text cannot see.
            keys = cap.keys[n] if project is None else cap.keys[n] @ project[n]  # (rows, d_in)
            if preserve is None:
                u, r = ridge_factors(keys, values, cfg.lam)
            else:
                reg, reg_inv = preserve[n]
                u, r = ridge_factors(keys, values, cfg.lam, reg=reg, reg_inv=reg_inv)
            factors[n] = (u.cpu(), r.cpu())
        return factors

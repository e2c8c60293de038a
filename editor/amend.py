"""Amend's method: UltraEdit plus what measurably helped on SmolLM2 with real ZsRE edits (README):
- ``steps`` closed-form steps per batch, each on freshly captured gradients, with ``settle`` (rows
  already answering their target get a zero shift; the batch stops once every row has settled);
- a preservation term mu * C0 (MEMIT/AlphaEdit; C0 = general text's key covariance), optionally
  AlphaEdit's null space, and ``nu`` (earlier edits' keys in the ridge);
- calibration: an empty normaliser is seeded with fixed counterfactual edits before the first batch;
- the rows: context prefixes (ROME's templates), the subject's last token as a key, curators'
  paraphrases as rows of their own.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .config import AmendConfig
from .data import EditRequest
from .delta import Delta
from .editor import Prepared, UltraEdit, editing_method
from .evaluation import sample_text
from .forward import Trunk
from .general import calibration_requests
from .generate import greedy_answers
from .hooks import Captured, capture, module_inputs
from .model import LoadedModel, get_module, in_out_dims
from .tokens import TeacherForced, edit_batch, prompt_ids
from .ultraedit import null_space_projection, preservation_matrix, ridge_factors

GENERAL_TEXT = "amend-general-text.json"  # the model's own seeded samples, beside its weights
_OPENINGS = ["The", "Therefore", "Because", "I", "You", "It", "In", "A"]  # ROME's five, then three more


def write_general_text(loaded: LoadedModel, tokens: int = 4096) -> Path:
    """Sample the model's general text once (seed 0) and keep it in its directory."""
    rows = sample_text(loaded, tokens, min(128, loaded.context_length), seed=0)
    path = Path(loaded.name) / GENERAL_TEXT
    path.write_text(json.dumps(rows))
    return path


@editing_method("amend")
class Amend(UltraEdit):
    config: AmendConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # General text for the preservation term; None = the model's own samples.
        self.preserve_text: str | None = None
        self._general: dict[str, torch.Tensor] | None = None  # general text's keys (N0, d_in) until prepared
        self._preserve = self.prepared.preserve
        self._project = self.prepared.project
        self._prefix_cache: list[str] | None = None
        self._regularized: dict[str, tuple[torch.Tensor | None, torch.Tensor]] | None = None  # this batch's
        self._first_keys: dict[str, torch.Tensor] = {}

    def prepare(self) -> Prepared:
        if self.config.mu > 0:
            self._preservation()
        self._projection()
        self._general = None  # 4,096 keys per module: what they were for is built
        self.prepared = Prepared(preserve=self._preserve, project=self._project)
        return self.prepared

    # -- the batch ------------------------------------------------------------------------------
    def _edit(self, batch: TeacherForced, saved_weights: list[torch.Tensor]) -> Delta:
        self._regularized = self._regularizer()  # once per batch: nu's part changes between batches
        self._first_keys = {}
        delta = super()._edit(batch, saved_weights)
        for n, k in self._first_keys.items():  # nu: this batch's keys join the earlier edits' sum
            self.normalizer.update_keys(n, k)
        return delta

    def _steps(self) -> int:
        return self.config.steps

    def _capture(self, batch: TeacherForced, trunk: Trunk | None = None, only: torch.Tensor | None = None) -> Captured:
        cfg = self.config
        return capture(
            self.loaded.model,
            cfg.modules,
            batch,
            chunk=cfg.chunk,
            trunk=trunk,
            positions=cfg.positions,
            margin=cfg.margin,
            only=only,
        )

    def _settled(self, cap: Captured) -> bool:
        return self.config.settle and bool(cap.rows_done.all())

    def _active(self, cap: Captured) -> torch.Tensor | None:
        # A settled row would get a zero shift: with ``skip_settled`` later steps do not run it at all (it
        # then no longer anchors its key in the ridge, and is not re-checked within this batch).
        if self.config.settle and self.config.skip_settled:
            return cap.rows[~cap.rows_done]
        return None

    def _solve(self, cap: Captured, step_index: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        if step_index == 0 and self.config.nu > 0:
            self._first_keys = {n: cap.keys[n] for n in self.config.modules}
        return super()._solve(cap, step_index)

    def _values(self, values: torch.Tensor, cap: Captured) -> torch.Tensor:
        if self.config.settle:
            # An edit that already answers its target is held where it is (zero shift) rather than
            # pushed further: later steps spend their change only on edits still failing.
            values[cap.done.to(values.device)] = 0.0
        return values

    def _ridge(self, name: str, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        project = self._projection()
        if project is not None:  # keys on general text's null space: a Delta general text cannot see
            keys = keys @ project[name]  # (rows, d_in)
        if self._regularized is None:
            return ridge_factors(keys, values, self.config.lam)
        reg, reg_inv = self._regularized[name]
        return ridge_factors(keys, values, self.config.lam, reg=reg, reg_inv=reg_inv)

    # -- rows -----------------------------------------------------------------------------------
    def _teacher_forced(self, requests: list[EditRequest], *, prefixed: bool = True) -> TeacherForced:
        """The batch's rows: each request's prompt (and, with ``paraphrase_rows``, its paraphrases), each
        also behind every context prefix (``templates``, unless not ``prefixed``); the subject marked where
        the row holds it."""
        cfg, tok, ctx = self.config, self.loaded.tokenizer, self.loaded.context_length
        prefixes = ["", *self._prefixes()] if prefixed else [""]
        rows: list[tuple[str, str, str | None]] = []
        for r in requests:
            wordings = [r.prompt, *(r.paraphrases if cfg.paraphrase_rows else [])]
            for text in wordings:
                subject = r.subject if r.subject and r.subject in text else None
                rows += [(prefix + text, r.target, subject) for prefix in prefixes]
        subjects = [s for _, _, s in rows] if cfg.positions == "subject" else None
        prompts, targets = [p for p, _, _ in rows], [t for _, t, _ in rows]
        return edit_batch(tok, prompts, targets, ctx, subjects, self._end_id()).to(self.loaded.device)

    def _end_id(self) -> int | None:
        """The token that must follow a target (``answer_end``): the end of text, or a full stop."""
        tok = self.loaded.tokenizer
        if self.config.answer_end == "eos":
            return tok.eos_token_id
        if self.config.answer_end == "period":
            return tok(".", add_special_tokens=False)["input_ids"][-1]
        return None

    def _prefixes(self) -> list[str]:
        """ROME's context templates: short greedy continuations of the model's own from a few openings,
        each ending in ". ", put before the prompt so the edit holds whatever text precedes it."""
        count = self.config.templates
        if count and self._prefix_cache is None:
            openings = _OPENINGS[:count]
            said = greedy_answers(self.loaded, openings, max_new_tokens=6)
            self._prefix_cache = [
                f"{o} {a}".split("\n")[0].strip().rstrip(".") + ". " for o, a in zip(openings, said, strict=True)
            ]
        return self._prefix_cache or []

    # -- calibration ------------------------------------------------------------------------------
    def ensure_calibrated(self) -> None:
        """Seed an empty normaliser with the calibration edits' rows (a no-op once it holds statistics)."""
        empty = not any(self.normalizer.count(k) for k in self._shape_keys())
        if self.config.calibrate and empty:
            self._calibrate()

    def _calibrate(self) -> None:
        """Seed an empty normaliser with the rows of fixed calibration edits (general-knowledge prompts
        given each other's answers); the weights are not touched. Without it a line's first batch is
        standardised by its own rows alone, and a lone fact's single row becomes zero. The prompts are taken
        without the context prefixes: they only seed the standardisation, which every batch's own rows
        (prefixed) then join, and a new line's first batch does not wait for five times the capture (38 s
        against 5 s on a 2-core CPU)."""
        requests = calibration_requests(self.config.calibrate)
        weight = self.config.calibrate_rows or None
        self._update_normalizer(self._capture(self._teacher_forced(requests, prefixed=False)), weight)

    # -- preservation -----------------------------------------------------------------------------
    def _general_token_rows(self) -> list[list[int]]:
        """Token sequences of general text for C0: ``preserve_text`` if set, else the model's own samples
        (its own picture of "general text", as MEMIT uses Wikipedia for GPT-2), read from the model
        directory when it ships them (``GENERAL_TEXT``, written by fetch-model) so that a worker does not
        sample them again at every start."""
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

    def _general_keys(self) -> dict[str, torch.Tensor]:
        """Per module, the inputs (N0, d_in) it sees on general text; computed once, kept on the CPU."""
        if self._general is None:
            rows = self._general_token_rows()
            width = max(len(r) for r in rows)
            device = self.loaded.device
            ids = torch.tensor([r + [0] * (width - len(r)) for r in rows], device=device)  # (rows, width)
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
            keys: dict[str, list[torch.Tensor]] = {n: [] for n in self.config.modules}
            for start in range(0, len(rows), 8):
                part = slice(start, start + 8)
                for n, k in module_inputs(self.loaded.model, self.config.modules, ids[part], mask[part]).items():
                    keys[n].append(k.cpu())
            self._general = {n: torch.cat(k) for n, k in keys.items()}
        return self._general

    def _preservation(self) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
        """Per module (A, A^-1) with A = lam I + mu C0; built once, fixed size (d_in x d_in). With ``nu`` the
        ridge inverts A plus the earlier keys' sum instead, and A^-1 is not kept."""
        if self._preserve is None:
            device, cfg = self.loaded.device, self.config
            self._preserve = {}
            for n, k in self._general_keys().items():
                a, a_inv = preservation_matrix(k, cfg.lam, cfg.mu)
                self._preserve[n] = (a.to(device), None if cfg.nu > 0 else a_inv.to(device))
        return self._preserve

    def _projection(self) -> dict[str, torch.Tensor] | None:
        """Per module, the projection (d_in, d_in) on the null space of general text's keys."""
        if not self.config.null_space:
            return None
        if self._project is None:
            self._project = {
                n: null_space_projection(k, self.config.null_space).to(self.loaded.device)
                for n, k in self._general_keys().items()
            }
        return self._project

    def _regularizer(self) -> dict[str, tuple[torch.Tensor | None, torch.Tensor]] | None:
        """Per module (A, A^-1) for this batch: A = lam I + mu C0 + nu * (sum of earlier edit keys' k k^T);
        None for the plain lam I. With ``nu`` only A^-1 is kept (A is None): the ridge then solves the
        rows' own system, the smaller one for any batch of fewer rows than d_in."""
        cfg = self.config
        if cfg.mu <= 0 and cfg.nu <= 0:
            return None
        if cfg.nu <= 0:
            return self._preservation()
        out = {}
        for n in cfg.modules:
            if cfg.mu > 0:
                a = self._preservation()[n][0].to("cpu", torch.float64)  # a fresh (d_in, d_in) tensor
            else:
                a = cfg.lam * torch.eye(in_out_dims(get_module(self.loaded.model, n))[0], dtype=torch.float64)
            earlier = self.normalizer.key_sum(n)
            if earlier is not None:
                a.add_(earlier, alpha=cfg.nu)  # both terms exactly symmetric, so the sum is
            out[n] = (None, torch.linalg.inv(a).float().to(self.loaded.device))
            del a  # one module's float64 matrices alive at a time
        return out

"""Capture, at the scored target positions, each edited module's input k and the gradient g of
the edit loss with respect to its output.

Only the edited modules' weights are switched to requires_grad for the pass, so autograd
records the graph from the first edited layer onwards and nothing else; gradients are taken
with ``torch.autograd.grad`` on the module outputs, so no ``.grad`` is ever left on a weight.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from .forward import BlockReachedError, Trunk, backbone, by_length
from .model import get_module
from .tokens import TeacherForced


@dataclass
class Captured:
    """Per module: keys (N, d_in) and output gradients (N, d_out), fp32, in the order of ``rows``."""

    keys: dict[str, torch.Tensor]
    grads: dict[str, torch.Tensor]
    loss: float  # mean over edits of each edit's mean target-token NLL, before the edit
    done: torch.Tensor  # (N,) bool: the row's edit already yields every target token (argmax)
    rows: torch.Tensor  # (b,) the batch rows (edits) captured, in the order of the rows above
    rows_done: torch.Tensor  # (b,) bool: whether each of those edits already yields its target


def edit_loss(logits: torch.Tensor, batch: TeacherForced) -> torch.Tensor:
    """Sum over edits of each edit's mean target-token NLL: one edit's gradient does not depend
    on how many other edits share its batch. logits: (B, T, V)."""
    return scored_loss(logits[batch.scored], batch)


def scored_loss(logits: torch.Tensor, batch: TeacherForced) -> torch.Tensor:
    """``edit_loss`` from the logits (N, V) of the scored positions only, in row-major order."""
    scored = batch.scored
    nll = nn.functional.cross_entropy(logits.float(), batch.labels[scored], reduction="none")  # (N,)
    per_row = scored.sum(dim=1).clamp(min=1).to(nll.dtype)  # (B,)
    weights = (1.0 / per_row).unsqueeze(1).expand_as(scored)[scored]  # (N,)
    return (nll * weights).sum()


def _leads(logits: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """(N,) bool: the label's logit beats every other token's by more than ``margin``. logits (N, V)."""
    picked = logits.gather(1, labels[:, None]).squeeze(1)  # (N,)
    rival = logits.scatter(1, labels[:, None], float("-inf")).amax(dim=1)  # (N,)
    return picked - rival > margin


@contextmanager
def weights_require_grad(modules: list[nn.Module]):
    previous = [m.weight.requires_grad for m in modules]
    try:
        for m in modules:
            m.weight.requires_grad_(True)
        yield
    finally:
        for m, flag in zip(modules, previous, strict=True):
            m.weight.requires_grad_(flag)


def capture(
    model: nn.Module,
    names: list[str],
    batch: TeacherForced,
    chunk: int = 0,
    trunk: Trunk | None = None,
    positions: str = "target",
    margin: float = 0.0,
    only: torch.Tensor | None = None,
) -> Captured:
    """Run the teacher-forced batch (in chunks of ``chunk`` rows, 0 = all at once) and capture k, g.

    Each edit's loss only depends on its own row, so chunking gives the same rows; chunks take the rows
    shortest first, each cut to its longest row (``Captured.rows`` says the order). ``trunk`` (built
    once per batch) skips the blocks below the lowest edited one; logits exist only where scored.
    positions: "target" captures the scored positions (the paper); "subject" those and the last token
    of the request's subject (ROME's key: paraphrases share it); "all" every real token.
    margin: a row is ``done`` when each target token leads the runner-up by this many nats (0: argmax).
    only: the batch rows (edits) to run, (b,) indices; None = all of them."""
    modules = [get_module(model, n) for n in names]
    if trunk is None:
        trunk = Trunk(model, modules, batch.input_ids, batch.attention_mask, chunk=chunk)
    order = torch.arange(batch.input_ids.shape[0]) if only is None else only.cpu()
    order = by_length(batch.attention_mask, order)
    size = len(order)
    step = chunk if chunk and chunk > 0 else size
    keys: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    grads: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    total = 0.0
    done: list[torch.Tensor] = []
    rows_done: list[torch.Tensor] = []
    for start in range(0, size, step):
        rows = order[start : start + step].to(batch.input_ids.device)
        part = batch.rows(rows).trimmed()
        mask = part.scored
        rows_at = {"target": mask, "subject": mask | part.subject, "all": part.attention_mask.bool()}[positions]
        outputs: dict[str, torch.Tensor] = {}
        handles = []

        def make_hook(name: str, rows_at: torch.Tensor = rows_at, outputs: dict = outputs):
            def hook(_module, inputs, output):
                keys[name].append(inputs[0][rows_at].detach().float())  # (n_rows, d_in)
                outputs[name] = output

            return hook

        for name, module in zip(names, modules, strict=True):
            handles.append(module.register_forward_hook(make_hook(name)))
        try:
            with weights_require_grad(modules), torch.enable_grad():
                logits = trunk.logits(rows, mask)  # (n_rows, V)
                loss = scored_loss(logits, part)
                hit = torch.ones_like(mask)
                hit[mask] = _leads(logits.detach(), part.labels[mask], margin)
                rows_done.append(hit.all(dim=1).cpu())  # (b,)
                done.append(rows_done[-1][:, None].expand_as(mask)[rows_at.cpu()])  # (n_rows,)
                outs = [outputs[n] for n in names]
                out_grads = torch.autograd.grad(loss, outs)
        finally:
            for h in handles:
                h.remove()
        for name, g in zip(names, out_grads, strict=True):
            grads[name].append(g[rows_at].detach().float())  # (n_rows, d_out)
        total += float(loss.detach())
        del logits, loss, outs, out_grads, outputs
    return Captured(
        keys={n: torch.cat(v) for n, v in keys.items()},
        grads={n: torch.cat(v) for n, v in grads.items()},
        loss=total / size,
        done=torch.cat(done),
        rows=order,
        rows_done=torch.cat(rows_done),
    )


def module_inputs(model: nn.Module, names: list[str], input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """Inputs to each module at every real (non-padding) position: name -> (N, d_in) fp32.

    The pass stops as soon as every module has been seen: nothing above the top one runs."""
    modules = [get_module(model, n) for n in names]
    mask = attention_mask.bool()
    seen: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def grab(_module, inputs, _output):
            seen[name] = inputs[0][mask].detach().float()
            if len(seen) == len(names):
                raise BlockReachedError

        return grab

    handles = [m.register_forward_hook(hook(n)) for n, m in zip(names, modules, strict=True)]
    try:
        with torch.no_grad():
            backbone(model)(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    except BlockReachedError:
        pass
    finally:
        for h in handles:
            h.remove()
    return seen

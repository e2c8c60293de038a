"""The FT baseline: plain gradient descent on the edited modules' weights, batch loss only."""

from __future__ import annotations

import torch
from torch import nn

from .delta import Delta, dense_factors
from .editor import Editor, editing_method
from .errors import NonFiniteEditError
from .hooks import edit_loss, weights_require_grad
from .model import get_module, module_kind
from .tokens import TeacherForced


def finetune_steps(model: nn.Module, names: list[str], batch: TeacherForced, lr: float, steps: int) -> list[float]:
    """``steps`` full-batch steps W -= lr * dL/dW on the named modules; returns the loss before each."""
    modules = [get_module(model, n) for n in names]
    weights = [m.weight for m in modules]
    losses = []
    for _ in range(steps):
        with weights_require_grad(modules), torch.enable_grad():
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            loss = edit_loss(logits, batch)
            grads = torch.autograd.grad(loss, weights)
        losses.append(float(loss.detach()) / batch.input_ids.shape[0])
        with torch.no_grad():
            for w, g in zip(weights, grads, strict=True):
                w.sub_(lr * g)
        del logits, loss, grads
    return losses


@editing_method("ft")
class FineTune(Editor):
    """The baseline: ``steps`` full-batch gradient steps; the Delta is the change, as dense factors."""

    def _edit(self, batch: TeacherForced, saved_weights: list[torch.Tensor]) -> Delta:
        cfg, model = self.config, self.loaded.model
        self.last_losses = finetune_steps(model, cfg.modules, batch, cfg.lr, cfg.steps)
        factors = {}
        for name, before in zip(cfg.modules, saved_weights, strict=True):
            module = get_module(model, name)
            d = module.weight.detach().float() - before.float()
            if module_kind(module) == "linear":
                d = d.T  # (d_in, d_out)
            factors[name] = dense_factors(d.cpu())
        delta = Delta(factors)
        if not delta.is_finite():
            raise NonFiniteEditError("fine-tuning produced non-finite weights; lower lr. The model is unchanged")
        return delta

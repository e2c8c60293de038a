"""The published UltraEdit code (github XiaojieGu/UltraEdit), run from a checkout given by path.

Nothing of it is copied here: its own modules are imported from ``repo`` and driven the way its
``sequential_valid`` drives them, one turn at a time (``cache`` = forward/backward with its
tracers, ``predict_param_shifts`` = normalise and solve, ``edit_model`` = add the shifts), so the
edit phase can be timed and its memory sampled turn by turn beside Amend's editor. The edited
model is then scored by Amend's own metrics, so both sides are measured by the same code.

Its requirements beyond Amend's: hydra-core, omegaconf and nltk (bench/requirements.txt); it
logs through wandb, for which a do-nothing stand-in is installed in ``sys.modules``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path

from editor import EditorError, EditRequest, LoadedModel, wrap_model


def _stub_wandb() -> None:
    if "wandb" not in sys.modules:
        stub = types.ModuleType("wandb")
        stub.log = lambda *a, **k: None
        stub.init = lambda *a, **k: None
        sys.modules["wandb"] = stub


# The import names of bench/requirements.txt: what the published code needs beyond Amend's own.
REQUIREMENTS = ("hydra", "omegaconf", "nltk")


def check_checkout(repo: Path) -> None:
    """EditorError unless ``repo`` is a checkout of the published code and its requirements are installed: asked
    before any method runs, so a run of several methods does not fail after the first has spent its time."""
    if not (repo / "editor" / "ultraedit.py").is_file():
        raise EditorError(f"{repo} is not a checkout of the published UltraEdit code (no editor/ultraedit.py)")
    missing = [name for name in REQUIREMENTS if importlib.util.find_spec(name) is None]
    if missing:
        raise EditorError(f"the published code needs {', '.join(missing)}: pip install -r bench/requirements.txt")


def _import_repo(repo: Path):
    check_checkout(repo)
    _stub_wandb()
    sys.path.insert(0, str(repo))
    # Its package is also called ``editor``: ours steps aside from sys.modules while its modules import (they
    # import each other only at load time), then comes back, so both live in this process.
    # Its directories have no __init__.py (namespace packages), which any regular package of the same name
    # on sys.path would win over: the entries that hold ours are left out while it imports.
    ours = {name: sys.modules.pop(name) for name in list(sys.modules) if name == "editor" or name.startswith("editor.")}
    path = list(sys.path)
    sys.path[:] = [p for p in path if not (Path(p or ".") / "editor" / "__init__.py").is_file()]
    try:
        from data.base import make_loader
        from data.zsre import ZSREDataset
        from model import make_model

        from editor.ultraedit import ULTRAEDIT
    except ImportError as exc:
        hint = "pip install -r bench/requirements.txt"
        raise EditorError(f"cannot import the published code from {repo}: {exc} ({hint})") from None
    finally:
        sys.path[:] = path
        for name in [n for n in sys.modules if n == "editor" or n.startswith("editor.")]:
            del sys.modules[name]
        sys.modules.update(ours)
    return make_loader, ZSREDataset, ULTRAEDIT, make_model


class PublishedUltraEdit:
    """One model and one editor of the published code, over ``requests`` in turns of ``batch_size``."""

    def __init__(
        self,
        repo: str | Path,
        model_dir: str,
        requests: list[EditRequest],
        *,
        modules: list[str],
        lr: float,
        batch_size: int,
        device: str,
        minibatch: int = 10,
    ) -> None:
        make_loader, zsre_dataset, ultraedit, make_model = _import_repo(Path(repo))
        from omegaconf import OmegaConf

        self._work = tempfile.TemporaryDirectory(prefix="published-ultraedit-")
        work = Path(self._work.name)
        records = [
            {
                "src": r.prompt,
                "rephrase": r.paraphrases[0] if r.paraphrases else r.prompt,
                "ans": r.target,
                "loc": r.locality[0].prompt if r.locality else r.prompt,
                "loc_ans": (r.locality[0].answer or "") if r.locality else r.target,
            }
            for r in requests
        ]
        (work / "zsre.json").write_text(json.dumps(records))
        turns = -(-len(requests) // batch_size)
        # The shape of its hydra config (config/config.yaml + dataset/zsre + editor/ultraedit + model/*).
        self.config = OmegaConf.create(
            {
                "num_seq": turns,
                "model_device": device,
                "editor_device": device,
                "model_cache": False,
                "dataset": {
                    "name": "zsre",
                    "n_edits": batch_size,
                    "batch_size": minibatch,
                    "valid_path": str(work / "zsre.json"),
                    "num_seq": turns,
                },
                "editor": {"name": "ultraedit", "lr": lr, "batch_size": 128, "token": "ans", "cache_dir": str(work)},
                "model": {
                    "name": "amend-bench",
                    "name_or_path": model_dir,
                    "class_name": "AutoModelForCausalLM",
                    "edit_modules": list(modules),
                    "half": False,  # the same dtype (fp32) as Amend's side
                },
            }
        )
        model = make_model(self.config.model).to(device)
        self.editor = ultraedit(self.config, model)
        _, loader = make_loader(self.config, zsre_dataset)
        self.turns = list(loader)

    def edit_turn(self, index: int) -> None:
        """The published edit of turn ``index``: forward/backward with tracers, solve, add."""
        tuples = self.turns[index]
        self.editor.cache(tuples["edit_tuples"])
        shifts = self.editor.predict_param_shifts()
        self.editor.edit_model(shifts, False)

    def loaded(self, tokenizer) -> LoadedModel:
        """The model it edits, wrapped for Amend's metrics and timings (its gradients dropped)."""
        model = self.editor.model
        model.zero_grad(set_to_none=True)
        loaded = wrap_model(model, tokenizer, "published-ultraedit")
        for name in self.config.model.edit_modules:  # wrap_model froze them; its own cache needs them trainable
            model.get_submodule(name).weight.requires_grad_(True)
        return loaded

    def close(self) -> None:
        self._work.cleanup()


def published_runner(repo: str) -> Callable[..., PublishedUltraEdit]:
    return lambda *a, **k: PublishedUltraEdit(repo, *a, **k)

"""Each recorded version as a standard MLflow pyfunc model:
`mlflow.pyfunc.load_model("models:/amend-<line>@production")` (or `mlflow models serve -m ...`) gives
the edited model.

The registered model holds no weights, only a manifest (a few hundred bytes): the base checkpoint, the
edited modules, the version's nearest snapshot and the deltas after it (runs:/ URIs in the same MLflow
store), and the content hash. Loading materialises base + snapshot + deltas exactly as a worker does
(editor/versions.py) and refuses to serve weights whose hash differs from the recorded one.
No Django here: a serving process needs only the editor, torch, transformers and mlflow.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow.pyfunc

MANIFEST = "amend_version.json"
# Tokens of an answer unless the caller's params say otherwise (params={"max_new_tokens": N}).
DEFAULT_MAX_NEW_TOKENS = 16
EXAMPLE_PROMPT = "The capital of France is"
# What the serving environment needs on top of the Amend source (shipped with the model as code).
REQUIREMENTS = ["torch", "transformers", "safetensors", "mlflow"]
# The source tree: the editor library and this module travel with every registered version.
_HERE = Path(__file__).resolve().parent.parent


class VersionMismatchError(Exception):
    """The rebuilt weights are not the recorded version: never served."""


def download(uri: str) -> Path:
    """A local copy of a runs:/ (or any MLflow) artifact URI, from the current tracking store."""
    from mlflow.artifacts import download_artifacts

    return Path(download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp(prefix="amend-serving-")))


def materialise(
    manifest: dict[str, Any],
    *,
    base_model: str | None = None,
    device: str = "cpu",
    fetch: Callable[[str], Path] = download,
) -> Any:
    """The version's model (editor.LoadedModel), its hash checked against the manifest's."""
    from editor import Delta, Snapshot, load_model, write_version_weights

    loaded = load_model(base_model or manifest["base_model"], device=device, dtype=_dtype_name(manifest["dtype"]))
    start = Snapshot.capture(loaded, manifest["modules"])
    if manifest.get("snapshot"):
        start = Snapshot.load(fetch(manifest["snapshot"]["uri"]))
    deltas = [Delta.load(fetch(uri)) for uri in manifest["deltas"]]
    content_hash = write_version_weights(loaded, start, deltas)
    if content_hash != manifest["content_hash"]:
        raise VersionMismatchError(
            f"{manifest.get('label', 'this version')} rebuilt with content hash {content_hash[:12]}, recorded "
            f"{manifest['content_hash'][:12]}: refused (a delta, snapshot or the base changed since)"
        )
    return loaded


def _dtype_name(torch_name: str) -> str:
    return {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}[torch_name]


def _prompts(model_input: Any) -> list[str]:
    """Prompts from what pyfunc callers send: a string, a list, a Series, or a DataFrame (its "prompt"
    column, else its first)."""
    if isinstance(model_input, str):
        return [model_input]
    if hasattr(model_input, "columns"):
        column = "prompt" if "prompt" in model_input.columns else model_input.columns[0]
        return [str(p) for p in model_input[column]]
    return [str(p) for p in list(model_input)]


# MLflow suggests type hints on predict when the class is defined; they are left out on purpose (see predict).
warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method", category=UserWarning)


class AmendVersion(mlflow.pyfunc.PythonModel):
    """predict(list of prompts) -> their greedy answers (params: max_new_tokens, default 16).

    model_config may override "base_model" (where the base checkpoint is on this machine) and "device"."""

    def load_context(self, context: Any) -> None:
        manifest = json.loads(Path(context.artifacts["manifest"]).read_text())
        config = context.model_config or {}
        self.loaded = materialise(manifest, base_model=config.get("base_model"), device=config.get("device", "cpu"))
        self.content_hash = manifest["content_hash"]

    # model_input has no type hint on purpose: MLflow would infer a signature from one (loading the version and
    # predicting while it is saved, or warning); the signature is stated in save_version_model instead.
    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> list[str]:
        from editor import greedy_answers

        tokens = int((params or {}).get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS))
        return greedy_answers(self.loaded, _prompts(model_input), max_new_tokens=tokens)


def save_version_model(path: Path, manifest: dict[str, Any]) -> None:
    """Write the pyfunc model of one version into `path` (a new directory): manifest + the Amend code it runs."""
    with tempfile.TemporaryDirectory() as scratch:
        manifest_file = Path(scratch) / MANIFEST
        manifest_file.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        code = Path(scratch) / "code"
        _copy_package(_HERE / "editor", code / "editor")
        (code / "mlops").mkdir(parents=True)
        (code / "mlops" / "__init__.py").write_text("")
        (code / "mlops" / "serving.py").write_bytes((_HERE / "mlops" / "serving.py").read_bytes())
        mlflow.pyfunc.save_model(
            str(path),
            python_model=AmendVersion(),
            artifacts={"manifest": str(manifest_file)},
            code_paths=[str(code / "editor"), str(code / "mlops")],
            pip_requirements=REQUIREMENTS,
            signature=signature(),
            input_example=([EXAMPLE_PROMPT], {"max_new_tokens": DEFAULT_MAX_NEW_TOKENS}),
        )


def signature() -> Any:
    """Prompts in (strings), answers out (strings), and max_new_tokens as a declared param: without it
    MLflow ignores what a caller passes ("This model does not define a params schema")."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string")]),
        outputs=Schema([ColSpec("string")]),
        params=ParamSchema([ParamSpec("max_new_tokens", "long", DEFAULT_MAX_NEW_TOKENS)]),
    )


def _copy_package(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes())

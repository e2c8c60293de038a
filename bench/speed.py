"""The edit phase alone, on a model of a named shape with random weights: how fast each method edits and in
how much memory where the real weights cannot be had (a 7B model on a GPU machine that reaches no hub).

    python -m bench speed --shape mistral-7b --tokenizer var/models/smollm2-135m \\
        --data ../shared/data/zsre_dev.jsonl --batch-size 1000 --turns 20 --method amend,ultraedit \\
        --device cuda --dtype bf16 --json var/bench-speed.json

Nothing is evaluated: the figures are seconds and bytes. Time barely depends on the weights, with one
exception the output states: amend stops a batch's steps for rows that already say their target, and the
rows of a random model never do, so its figure is the worst case (every step on every row); ``--model DIR``
times a real model instead. Records are taken again from the start when the turns ask for more than the file
holds: what a turn costs depends on the lengths of its prompts and targets, not on which facts they are.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from bench.cli import BenchError, BenchParser
from bench.editor import parse_settings  # the editor bench's --set grammar, stated once
from bench.memory import PeakMemory, synchronize
from editor import Editor, EditorConfig, EditorError, EditRequest, load_model, read_zsre, wrap_model
from editor.model import DTYPES, LoadedModel, resolve_device


@dataclass(frozen=True)
class Shape:
    """A published architecture's dimensions; the vocabulary is the tokenizer's (its ids must all exist)."""

    model_type: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    context: int
    rope_theta: float
    tied: bool
    help: str


SHAPES: dict[str, Shape] = {
    "smollm2-135m": Shape("llama", 576, 1536, 30, 9, 3, 8192, 1e5, True, "the bundled model's shape"),
    "mistral-7b": Shape("mistral", 4096, 14336, 32, 32, 8, 32768, 1e6, False, "Mistral-7B-v0.3"),
    "llama3-8b": Shape("llama", 4096, 14336, 32, 32, 8, 8192, 5e5, False, "Llama-3-8B"),
    "tiny-llama": Shape("llama", 64, 192, 4, 4, 2, 256, 1e4, True, "four small blocks (tests)"),
}
METHODS = ("amend", "ultraedit", "ft")


def random_model(shape_name: str, tokenizer, device: str, dtype: str, seed: int) -> LoadedModel:
    """The shape with transformers' own random initialisation, built on ``device`` (a 7B model is initialised
    on the GPU in seconds rather than on the CPU in minutes), then cast to ``dtype``."""
    shape = SHAPES[shape_name]
    config = AutoConfig.for_model(
        shape.model_type,
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=shape.context,
        rope_theta=shape.rope_theta,
        tie_word_embeddings=shape.tied,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    with resolve_device(device):
        model = AutoModelForCausalLM.from_config(config)
    return wrap_model(model.to(DTYPES[dtype]), tokenizer, f"random {shape_name}")


def turns_of(requests: list[EditRequest], batch_size: int, turns: int) -> list[list[EditRequest]]:
    """``turns`` batches of ``batch_size`` requests, cycling through the records (prompts alone: paraphrase
    rows would change what a turn costs from one data file to another)."""
    rows = [EditRequest(r.prompt, r.target, subject=r.subject) for r in requests]
    needed = batch_size * turns
    cycled = [rows[i % len(rows)] for i in range(needed)]
    return [cycled[i : i + batch_size] for i in range(0, needed, batch_size)]


def time_method(loaded: LoadedModel, method: str, settings: dict, turns: list[list[EditRequest]]) -> dict:
    """Set the method up (its fixed matrices, a new line's calibration), then edit turn after turn: per turn
    the wall seconds and the peak memory of the edit alone."""
    config = EditorConfig.for_model(loaded, method=method, **settings)
    editor = Editor(loaded, config)
    started = time.perf_counter()
    editor.prepare()
    editor.ensure_calibrated()
    synchronize(loaded.device)
    setup_s = time.perf_counter() - started
    per_turn = []
    for index, batch in enumerate(turns, start=1):
        with PeakMemory(loaded.device) as mem:
            synchronize(loaded.device)
            started = time.perf_counter()
            editor.apply(batch)
            synchronize(loaded.device)
            seconds = time.perf_counter() - started
        per_turn.append(
            {
                "turn": index,
                "s": seconds,
                "steps": len(editor.last_losses),
                "peak_bytes": mem.peak_bytes,
            }
        )
        print(f"{method}: turn {index}/{len(turns)} edited in {seconds:.2f} s", file=sys.stderr, flush=True)
    edits = sum(len(t) for t in turns)
    edit_s = sum(t["s"] for t in per_turn)
    return {
        "method": method,
        "config": config.to_dict(),
        "edits": edits,
        "edit_s": edit_s,
        "edits_per_s": edits / edit_s,
        "setup_s": setup_s,
        "peak_bytes": max(t["peak_bytes"] for t in per_turn),
        "per_turn": per_turn,
    }


def build_parser() -> argparse.ArgumentParser:
    p = BenchParser(prog="python -m bench speed", description=__doc__.split("\n\n")[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--shape", choices=sorted(SHAPES), help="a published shape with random weights")
    which.add_argument("--model", help="a model directory instead: its real weights (amend's steps then settle)")
    p.add_argument("--tokenizer", help="with --shape: a model directory whose tokenizer writes the prompts")
    p.add_argument("--data", required=True, help="ZsRE JSONL whose prompts and targets are edited")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--turns", type=int, default=20)
    p.add_argument("--method", default="amend,ultraedit", help=f"one or more of {', '.join(METHODS)}, by commas")
    p.add_argument("--set", action="append", default=[], metavar="METHOD.KEY=VALUE", help="a method's setting")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    return p


def _load(args: argparse.Namespace) -> LoadedModel:
    """A fresh model for one method: every method starts from the same weights."""
    if args.model:
        return load_model(args.model, device=args.device, dtype=args.dtype)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    return random_model(args.shape, tokenizer, args.device, args.dtype, args.seed)


def _release(loaded: LoadedModel) -> None:
    device = loaded.device
    loaded.model.to("meta")  # drop the weights now, before the next method builds its own
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def print_figures(figures: dict) -> None:
    print(f"{figures['model']} ({figures['dtype']}, {figures['device']}): {figures['note']}")
    print(
        f"{'method':<10} {'edits':>7} {'edit s':>9} {'edits/s':>9} {'s/turn':>15} {'steps':>7} {'peak MiB':>10}",
    )
    for r in figures["results"]:
        seconds = [t["s"] for t in r["per_turn"]]
        steps = [t["steps"] for t in r["per_turn"]]
        print(
            f"{r['method']:<10} {r['edits']:>7} {r['edit_s']:>9.1f} {r['edits_per_s']:>9.1f} "
            f"{min(seconds):>7.2f}-{max(seconds):<7.2f} {min(steps):>3}-{max(steps):<3} "
            f"{r['peak_bytes'] / 2**20:>10.0f}",
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        methods = [m.strip() for m in args.method.split(",") if m.strip()]
        unknown = [m for m in methods if m not in METHODS]
        if not methods or unknown:
            raise BenchError(f"--method: use one or more of {', '.join(METHODS)} (got {args.method!r})")
        if args.shape and not args.tokenizer:
            raise BenchError("--shape needs --tokenizer DIR: the model directory whose tokenizer writes the prompts")
        if args.batch_size < 1 or args.turns < 1:
            raise BenchError("--batch-size and --turns must be at least 1")
        if args.shape and not Path(args.tokenizer).is_dir():
            raise BenchError(f"--tokenizer {args.tokenizer!r} is not a directory")
        settings = parse_settings(args.set)
        turns = turns_of(read_zsre(args.data), args.batch_size, args.turns)
        results = []
        for method in methods:
            loaded = _load(args)
            results.append(time_method(loaded, method, settings[method], turns))
            device = loaded.device
            _release(loaded)
    except (BenchError, EditorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "code", 2)
    note = (
        "real weights"
        if args.model
        else "random weights: amend's rows never settle, so every step runs on every row (its worst case)"
    )
    figures = {
        "model": args.model or f"{args.shape} ({SHAPES[args.shape].help})",
        "dtype": args.dtype,
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "note": note,
        "results": results,
    }
    print_figures(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0

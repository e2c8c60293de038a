"""The editing benchmark: sequential turns of batch edits, then every edit is evaluated.

    python -m bench editor --model DIR --data FILE.jsonl --batch-size 100 --turns 10 \\
        --method ultraedit,amend [--published PATH] [--set METHOD.KEY=VALUE ...] [--json OUT]

Each method runs in a process of its own on a freshly loaded model, so peak memory is the
method's own; the parent prints one table. ``--published PATH`` adds the published UltraEdit code
(a checkout of github XiaojieGu/UltraEdit) as the method ``published``, with ultraedit's modules
and lr unless set. Timings: the edit phase alone; the reference is one plain forward+backward
(all weights trainable, loss.backward) over the same batch, timed right before it.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

import torch

from bench.memory import PeakMemory, synchronize
from bench.published import PublishedUltraEdit, check_checkout
from bench.questions import by_question, question_of
from bench.repair import RepairLoop
from bench.report import print_table, turn_shares
from editor import (
    Editor,
    EditorConfig,
    EditorError,
    EditRequest,
    evaluate,
    load_model,
    locality_baseline,
    perplexity,
    read_zsre,
)
from editor.config import METHODS as METHODS_CONFIG
from editor.evaluation import DEFAULT_FLUENCY_TEXT, GREEDY_TOKENS, says_now
from editor.hooks import edit_loss
from editor.tokens import edit_batch, prompt_ids, target_ids

METHODS = ("amend", "ultraedit", "ft", "published")


def _settings_of(method: str) -> dict[str, str]:
    """The settings ``--set METHOD.KEY=VALUE`` accepts: the method's config fields and their types."""
    config = METHODS_CONFIG["ultraedit" if method == "published" else method]
    return {f.name: str(f.type) for f in fields(config) if f.name != "method"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m bench editor", description="Lifelong editing benchmark (ZsRE JSONL)")
    p.add_argument("--model", required=True, help="model directory or hub id")
    p.add_argument("--data", required=True, help="ZsRE JSONL: src, rephrase, alt, loc, loc_ans[, answers]")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--turns", type=int, default=10)
    p.add_argument("--method", default="amend", help="amend, ultraedit, ft, published, or several separated by commas")
    p.add_argument("--published", default=None, help="checkout of the published UltraEdit code (adds 'published')")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="METHOD.KEY=VALUE",
        help="a setting of one method (a field of its config in editor/config.py); modules comma-separated",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="fp32")
    p.add_argument("--fluency", default=None, help="text file for perplexity (default: built-in text)")
    p.add_argument("--skip-long", action="store_true", help="drop records that do not fit the model's context")
    p.add_argument("--json", default=None, help="write all figures to this JSON file")
    p.add_argument("--in-process", action="store_true", help="run the methods in this process (tests)")
    p.add_argument(
        "--repair",
        type=int,
        default=0,
        metavar="N",
        help="amend: the lineage's repair loop: after each turn ask N seeded earlier edits that took; those no "
        "longer said (regressed) are re-applied in the next turn's batch (0 = off)",
    )
    p.add_argument(
        "--retry-untaken",
        action="store_true",
        help="with --repair: an edit not said right after its batch (or its re-application) is re-applied in the "
        "next batch too, as the platform retries a fact that did not take",
    )
    p.add_argument(
        "--max-reapplications",
        type=int,
        default=2,
        metavar="N",
        help="with --repair: how often one edit is re-applied at most (the line setting of the same name)",
    )
    p.add_argument(
        "--full-check-every",
        type=int,
        default=0,
        metavar="K",
        help="with --repair: every K turns ask every earlier edit said, not a sample (the platform's scheduled "
        "full check, whose regressed facts ride the next batch too; 0 = never)",
    )
    p.add_argument(
        "--parallel",
        action="store_true",
        help="run the methods' processes at the same time (a shared machine: each meets the same load)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the repair loop's samples")
    p.add_argument(
        "--curve-every",
        type=int,
        default=0,
        metavar="K",
        help="measure the greedy retention curve after every K-th turn (0 = about ten points)",
    )
    p.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the plain forward+backward timed before each turn: its freed memory stays in the process's "
        "resident set and would hide the edit's own peak",
    )
    return p


def parse_settings(items: list[str]) -> dict[str, dict]:
    """``--set amend.lr=1e-4`` -> {"amend": {"lr": 1e-4}}; EditorError on anything unknown."""
    out: dict[str, dict] = {m: {} for m in METHODS}
    for item in items:
        key, sep, value = item.partition("=")
        method, dot, name = key.partition(".")
        known = _settings_of(method) if method in out else {}
        if not sep or not dot or name not in known:
            raise EditorError(
                f"--set {item!r}: expected METHOD.KEY=VALUE, METHOD one of {METHODS}, KEY a setting of that method "
                f"({', '.join(known) or 'see editor/config.py'})"
            )
        kind = known[name]
        if kind == "list[str]":
            out[method][name] = [m.strip() for m in value.split(",") if m.strip()]
        elif kind == "bool":
            out[method][name] = value.lower() in ("1", "true", "yes")
        elif kind == "str":
            out[method][name] = value
        else:
            try:
                out[method][name] = int(value) if kind == "int" else float(value)
            except ValueError:
                raise EditorError(f"--set {item!r}: {value!r} is not a number") from None
    return out


def plain_forward_backward(model, batch, repeats: int = 1) -> tuple[float, float]:
    """(wall, CPU) seconds of one ordinary training forward+backward over the batch (all weights
    trainable, none updated): the median of ``repeats`` runs, as the machine may be shared."""
    params = list(model.parameters())
    trainable = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    times, cpu = [], []
    try:
        for _ in range(repeats):
            synchronize(batch.input_ids.device)
            t0, c0 = time.perf_counter(), time.process_time()
            with torch.enable_grad():
                logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
                edit_loss(logits, batch).backward()
            synchronize(batch.input_ids.device)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            for p in params:
                p.grad = None
            del logits
    finally:
        for p, flag in zip(params, trainable, strict=True):
            p.grad = None
            p.requires_grad_(flag)
    return sorted(times)[len(times) // 2], sorted(cpu)[len(cpu) // 2]


def fits(loaded, request) -> bool:
    """Whether every prompt of the record, with its answer, fits the model's context."""
    tok, ctx = loaded.tokenizer, loaded.context_length
    t = len(target_ids(tok, request.target))
    texts = [(p, t) for p in [request.prompt, *request.paraphrases]]
    texts += [(p.prompt, len(target_ids(tok, p.answer)) if p.answer else GREEDY_TOKENS) for p in request.locality]
    return all(len(prompt_ids(tok, p)) + n <= ctx for p, n in texts)


class _AmendSide:
    """Amend's editor (any of its methods) behind the same two calls as the published code. Requests are
    edited without their paraphrases: the record's ``rephrase`` is the unseen wording GS is measured on."""

    def __init__(self, loaded, config: EditorConfig, turns):
        self.turns = [[replace(r, paraphrases=[]) for r in turn] for turn in turns]
        self.editor = Editor(loaded, config)
        self.repairs: list[EditRequest] = []  # earlier edits the repair loop re-applies next turn
        self.reapplied: list[EditRequest] = []  # what the last turn re-applied

    def edit_turn(self, index: int) -> dict:
        repairs = [replace(r, paraphrases=[]) for r in self.repairs]  # re-applied as edited: the prompt alone
        delta = self.editor.apply(self.turns[index] + repairs)
        self.reapplied, self.repairs = self.repairs, []
        return {"delta_rank": delta.rank, "loss_before_steps": self.editor.last_losses, "repaired": len(repairs)}


def run_method(args, method: str, settings: dict, requests, fluency_text: str) -> dict:
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    skipped = 0
    if args.skip_long:
        kept = [r for r in requests if fits(loaded, r)]
        skipped, requests = len(requests) - len(kept), kept
        if not requests:
            raise EditorError("no record fits the model's context")
    turns = [requests[i : i + args.batch_size] for i in range(0, len(requests), args.batch_size)]
    probes = [p for r in requests for p in r.locality]
    baseline = locality_baseline(loaded, probes)
    ppl_before = perplexity(loaded, fluency_text)
    before = evaluate(loaded, requests, generation=False).metrics  # greedy answers: after editing only

    t0 = time.perf_counter()
    if method == "published":
        reference = EditorConfig.for_model(loaded, method="ultraedit", **settings)
        config = {"method": "published", "modules": reference.modules, "lr": reference.lr, "lam": 1.0}
        # The published code loads its own copy of the model: drop ours so memory is its alone.
        tokenizer, device = loaded.tokenizer, str(loaded.device)
        del loaded
        gc.collect()
        side = PublishedUltraEdit(
            args.published,
            args.model,
            requests,
            modules=reference.modules,
            lr=reference.lr,
            batch_size=args.batch_size,
            device=device,
        )
        loaded = side.loaded(tokenizer)
    else:
        editor_config = EditorConfig.for_model(loaded, method=method, **settings)
        side = _AmendSide(loaded, editor_config, turns)
        side.editor.prepare()  # fixed, once per model line (C0): setup, not edit phase
        side.editor.ensure_calibrated()  # a new line's normaliser seeded once: setup too
        config = editor_config.to_dict()
    setup_s = time.perf_counter() - t0

    repair = (
        RepairLoop(args.repair, args.seed, args.retry_untaken, args.max_reapplications, args.full_check_every)
        if args.repair and method == "amend"
        else None
    )
    per_turn: list[dict] = []
    took: list[EditRequest] = []  # said right after their own turn: what the platform calls applied
    curve: list[dict] = []  # after some turns: the share of each earlier turn's prompts still said
    curve_every = args.curve_every or max(1, len(turns) // 10)
    for turn, batch_requests in enumerate(turns, start=1):
        batch = edit_batch(
            loaded.tokenizer,
            [r.prompt for r in batch_requests],
            [r.target for r in batch_requests],
            loaded.context_length,
        ).to(loaded.device)
        fb, fb_cpu = (float("nan"), float("nan")) if args.no_reference else plain_forward_backward(loaded.model, batch)
        del batch
        gc.collect()
        with PeakMemory(loaded.device) as mem:
            synchronize(loaded.device)
            started, cpu_started = time.perf_counter(), time.process_time()
            extra = side.edit_turn(turn - 1) or {}
            synchronize(loaded.device)
            latency, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        per_turn.append(
            {
                "turn": turn,
                "edits": len(batch_requests),
                "latency_s": latency,
                "forward_backward_s": fb,
                "cpu_s": cpu,
                "forward_backward_cpu_s": fb_cpu,
                "peak_memory_bytes": mem.peak_bytes,
                **extra,
            }
        )
        print(f"{method}: turn {turn}/{len(turns)} edited in {latency:.2f} s", file=sys.stderr, flush=True)
        applied = list(took)  # before this turn: what it may have worn down
        on_curve = turn < len(turns) and turn % curve_every == 0
        said = says_now(loaded, [r for t in turns[:turn] for r in t] if on_curve else batch_requests)
        own = said[-len(batch_requests) :]  # this turn's prompts are the last asked
        took += [r for r, ok in zip(batch_requests, own, strict=True) if ok]
        per_turn[-1]["took"] = sum(own)
        if on_curve:
            curve.append({"after_turn": turn, "said": turn_shares(said, turns)})
        if turn < len(turns) and repair is not None:
            side.repairs, per_turn[-1]["repair"] = repair.after_turn(
                loaded, turn, list(zip(batch_requests, own, strict=True)), side.reapplied
            )

    if method == "published":
        loaded = side.loaded(loaded.tokenizer)  # its gradients dropped before scoring
    started = time.perf_counter()
    report = evaluate(
        loaded,
        requests,
        locality_baseline=baseline,
        retained=[r for t in turns[:-1] for r in t],
        fluency_text=fluency_text,
        perplexity_before=ppl_before,
    )
    eval_s = time.perf_counter() - started
    said_now = {(item["prompt"], item["target"]) for item in report.per_request if item.get("says_target")}
    earlier_took = applied  # what took in turns 1..T-1: the last turn's "before this turn"
    curve.append({"after_turn": len(turns), "said": turn_shares([i["says_target"] for i in report.per_request], turns)})
    if method == "published":
        side.close()
    edit_s = sum(t["latency_s"] for t in per_turn)
    fb_s = sum(t["forward_backward_s"] for t in per_turn)
    peaks = [t["peak_memory_bytes"] for t in per_turn]
    return {
        "method": method,
        "config": config,
        "device": str(loaded.device),
        "edits": len(requests),
        "skipped_too_long": skipped,
        "turns": len(turns),
        "before": before,
        "metrics": report.metrics,
        "edits_per_s": len(requests) / edit_s if edit_s else float("nan"),
        "eval_s": eval_s,
        "retention_curve": curve,
        # Of the edits of turns 1..T-1 that took at their own turn, the share still said after turn T: fading
        # apart from never taking (the table's greedy retention counts both).
        "retention_of_took": (
            sum((r.prompt, r.target) in said_now for r in earlier_took) / len(earlier_took) if earlier_took else None
        ),
        "by_question": by_question(requests, report.per_request, question_of(args.data, len(requests) + skipped)),
        "repaired": sum(t.get("repaired", 0) for t in per_turn),
        "edit_s": edit_s,
        "setup_s": setup_s,
        "forward_backward_s": fb_s,
        "edit_to_forward_backward": edit_s / fb_s if fb_s else float("nan"),
        "peak_memory_bytes": max(peaks),
        "peak_memory_growth_turn2_to_last": (peaks[-1] / peaks[1] - 1) if len(peaks) > 2 else None,
        "per_turn": per_turn,
    }


def _in_children(argv: list[str], methods: list[str], parallel: bool) -> tuple[list[dict], list[str]]:
    """Run each method in a fresh process (its own peak memory), one after the other or all at once, and read
    back the figures of those that finished, in the order given, with a line for each that failed."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"{i}.json" for i in range(len(methods))]
        cmds = [
            [sys.executable, "-m", "bench", "editor", *argv, "--method", m, "--in-process", "--json", str(out)]
            for m, out in zip(methods, outs, strict=True)
        ]
        if parallel:
            children = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL) for cmd in cmds]
            codes = [child.wait() for child in children]
        else:
            codes = [subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False).returncode for cmd in cmds]
        results, failed = [], []
        for m, code, out in zip(methods, codes, outs, strict=True):
            if code != 0 or not out.is_file():
                failed.append(f"method {m} failed (exit code {code})")
            else:
                results.append(json.loads(out.read_text())["results"][0])
        return results, failed


def _child_argv(argv: list[str]) -> list[str]:
    """The command line without --method/--json/--in-process (the parent sets those per child)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        if item in ("--method", "--json"):
            skip = True
            continue
        if item.startswith(("--method=", "--json=")) or item in ("--in-process", "--parallel"):
            continue
        out.append(item)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        methods = [m.strip() for m in args.method.split(",") if m.strip()]
        if args.published and "published" not in methods and not args.in_process:
            methods.append("published")
        if not methods:
            raise EditorError("--method is empty")
        for m in methods:
            if m not in METHODS:
                raise EditorError(f"unknown method {m!r}: use amend, ultraedit, ft or published")
        if "published" in methods:
            if not args.published:
                raise EditorError(
                    "method published needs --published PATH (a checkout of the published UltraEdit code)"
                )
            check_checkout(Path(args.published))
        if args.batch_size < 1 or args.turns < 1:
            raise EditorError("--batch-size and --turns must be at least 1")
        counts = {
            "--repair": args.repair,
            "--max-reapplications": args.max_reapplications,
            "--full-check-every": args.full_check_every,
        }
        for flag, value in counts.items():
            if value < 0:
                raise EditorError(f"{flag} must be at least 0, got {value}")
        for flag, given in (("--retry-untaken", args.retry_untaken), ("--full-check-every", args.full_check_every)):
            if given and not args.repair:
                raise EditorError(f"{flag} is part of the repair loop: give --repair N too")
        settings = parse_settings(args.set)
        settings["published"] = {**settings["ultraedit"], **settings["published"]}
        requests = read_zsre(args.data, limit=args.batch_size * args.turns)
        fluency_text = Path(args.fluency).read_text(encoding="utf-8") if args.fluency else DEFAULT_FLUENCY_TEXT
        failed: list[str] = []
        if args.in_process or len(methods) == 1:
            results = [run_method(args, m, settings[m], requests, fluency_text) for m in methods]
        else:
            results, failed = _in_children(_child_argv(argv), methods, args.parallel)
    except EditorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return 2
    if results:  # the methods that finished keep their figures when another failed
        print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "data": args.data, "results": results}, indent=2))
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failed else 0

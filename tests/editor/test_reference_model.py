"""The offline reference model: a small GPT-2 that knows a generated world, and edits for it.

The tiny size is built once for the module (tens of seconds); determinism is checked on an
even smaller world so that building twice stays cheap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.pytorch_utils import Conv1D

from workers.editor.reference_model import (
    SIZES,
    build_from_spec,
    build_reference_model,
    generate_world,
    main,
    training_corpus,
)

REPO = Path(__file__).resolve().parents[2]
MICRO = replace(
    SIZES["tiny"],
    persons=12,
    companies=4,
    countries=3,
    cities=6,
    languages=3,
    fields=4,
    filler_docs=20,
    fluency_sentences=8,
    min_edits=20,
    probes=10,
    vocab_size=500,
    n_embd=32,
    n_layer=2,
    n_head=2,
    epochs=2,
    batch_size=16,
)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_reference_model(tmp_path_factory.mktemp("reference") / "tiny", size="tiny", seed=0)


@pytest.fixture(scope="module")
def loaded(tiny):
    return AutoModelForCausalLM.from_pretrained(tiny).eval(), AutoTokenizer.from_pretrained(tiny)


def teacher_forced_accuracy(model, tokenizer, prompt: str, answer: str) -> float:
    """Share of the answer's tokens that the model predicts when fed the true prefix."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    answer_ids = tokenizer(" " + answer)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + answer_ids])).logits[0]  # (T, vocab)
    predicted = logits[len(prompt_ids) - 1 : -1].argmax(-1).tolist()
    return sum(p == a for p, a in zip(predicted, answer_ids, strict=True)) / len(answer_ids)


@pytest.mark.slow
def test_the_built_directory_is_a_gpt2_that_loads_with_from_pretrained(tiny, loaded):
    model, tokenizer = loaded
    assert model.config.model_type == "gpt2"
    # the editor's default module for GPT-2 must exist and be a Conv1D
    assert isinstance(model.get_submodule(f"transformer.h.{model.config.n_layer - 1}.mlp.c_proj"), Conv1D)
    assert tokenizer.eos_token_id is not None and tokenizer.pad_token_id is not None
    for name in ("edits.jsonl", "facts.jsonl", "locality_probes.jsonl", "fluency.txt", "world.json", "README.md"):
        assert (tiny / name).stat().st_size > 0, name
    assert sum(f.stat().st_size for f in tiny.iterdir()) < 50 * 2**20


@pytest.mark.slow
def test_the_tokenizer_round_trips_any_unicode_text(loaded):
    _, tokenizer = loaded
    text = "Zoë's café in 東京 — 🚀 naïve Ωmega\tlin\u0435\u200b end ünïcödé ☃"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer.unk_token_id not in ids or tokenizer.unk_token_id == tokenizer.eos_token_id


@pytest.mark.slow
def test_before_any_edit_the_model_answers_its_own_facts(tiny, loaded):
    model, tokenizer = loaded
    facts = read_jsonl(tiny / "facts.jsonl")
    scores = [teacher_forced_accuracy(model, tokenizer, p, f["object"]) for f in facts for p in f["train"]]
    accuracy = sum(scores) / len(scores)
    assert accuracy >= 0.90
    reported = json.loads((tiny / "world.json").read_text())["accuracy"]["train_phrasings"]
    assert reported == pytest.approx(accuracy, abs=0.01)
    # and greedy generation spells out a known answer
    fact = facts[0]
    ids = tokenizer(fact["train"][0], return_tensors="pt")["input_ids"]
    out = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert tokenizer.decode(out[0, ids.shape[1] :]).strip().startswith(fact["object"])


@pytest.mark.slow
def test_edit_records_are_counterfactuals_on_entities_the_model_knows(tiny, loaded):
    model, tokenizer = loaded
    facts = read_jsonl(tiny / "facts.jsonl")
    edits = read_jsonl(tiny / "edits.jsonl")
    probes = read_jsonl(tiny / "locality_probes.jsonl")
    by_key = {(f["subject"], f["relation"]): f for f in facts}
    assert len(edits) >= SIZES["tiny"].min_edits
    assert len({(e["subject"], e["relation"]) for e in edits}) == len(edits), "each record edits a distinct fact"

    known_objects = {}
    for f in facts:
        known_objects.setdefault(f["relation"], set()).add(f["object"])
    probe_answers = {p["prompt"]: p["answer"] for p in probes}
    for e in edits:
        assert set(e) >= {"src", "rephrase", "alt", "answers", "loc", "loc_ans"}
        fact = by_key[(e["subject"], e["relation"])]
        assert e["answers"] == [fact["object"]]
        assert e["alt"] != fact["object"]
        assert e["alt"] in known_objects[e["relation"]], "the new target is an answer of another fact"
        assert e["src"] in fact["train"] and e["rephrase"] in fact["heldout"]
        assert probe_answers[e["loc"]] == e["loc_ans"]

    # the locality probes are facts no edit touches
    edited_prompts = {p for e in edits for p in by_key[(e["subject"], e["relation"])]["train"]}
    assert not edited_prompts & set(probe_answers)

    # "known": for most records, the model answers some other fact with the new target
    answered = {
        f["object"] for f in facts if teacher_forced_accuracy(model, tokenizer, f["train"][0], f["object"]) == 1.0
    }
    assert sum(e["alt"] in answered for e in edits) >= 0.9 * len(edits)


def test_held_out_phrasings_never_appear_in_the_training_corpus():
    spec = SIZES["tiny"]
    world = generate_world(spec, seed=0)
    corpus = "\n".join(training_corpus(world, spec, seed=0).documents())
    heldout = [p for f in world.facts for p in f.heldout]
    assert heldout
    assert not [p for p in heldout if p in corpus]
    # yet every held-out template is trained with other subjects, so paraphrases can generalise
    assert all(p in corpus for f in world.facts for p in f.train)


def test_building_twice_with_the_same_seed_gives_identical_bytes(tmp_path):
    first = build_from_spec(tmp_path / "a", MICRO, seed=3)
    second = build_from_spec(tmp_path / "b", MICRO, seed=3)
    other = build_from_spec(tmp_path / "c", MICRO, seed=4)
    for name in ("model.safetensors", "tokenizer.json", "edits.jsonl", "facts.jsonl", "fluency.txt"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "model.safetensors").read_bytes() != (other / "model.safetensors").read_bytes()


def test_if_missing_leaves_a_complete_model_alone(tmp_path):
    out = build_from_spec(tmp_path / "ref", MICRO, seed=0)
    weights = out / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert main(["--out", str(out), "--if-missing", "--size", "tiny"]) == 0
    assert weights.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--size", "huge", "--out", "x"], "--size"),
        (["--seed", "-1", "--out", "x"], "--seed"),
        (["--seed", "many", "--out", "x"], "--seed"),
        (["--size", "tiny"], "--out"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_an_output_path_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    assert main(["--out", str(target), "--size", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a directory" in err
    assert target.read_text() == "not a directory"


def test_the_module_runs_as_a_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "workers.editor.reference_model", "--out", str(tmp_path), "--size", "medium"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "medium" in result.stderr

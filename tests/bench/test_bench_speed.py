"""`python -m bench speed`: the edit phase alone on a named shape with random weights, and its one-line errors."""

import json

import pytest
import torch

from bench.__main__ import main
from bench.speed import SHAPES, random_model, turns_of
from editor import EditRequest
from tests.editor.conftest import edits, make_tokenizer


@pytest.fixture
def files(tmp_path):
    tokenizer = make_tokenizer()
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    rows = [{"src": e.prompt, "rephrase": e.paraphrases[0], "alt": e.target} for e in edits()]
    data = tmp_path / "edits.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "tokenizer", data


def test_times_every_method_turn_by_turn_on_the_shape(files, tmp_path, capsys):
    tokenizer, data = files
    out = tmp_path / "speed.json"
    argv = ["speed", "--shape", "tiny-llama", "--tokenizer", str(tokenizer), "--data", str(data)]
    code = main([*argv, "--batch-size", "3", "--turns", "2", "--method", "amend,ultraedit", "--device", "cpu",
                 "--json", str(out)])  # fmt: skip
    assert code == 0
    figures = json.loads(out.read_text())
    assert "random weights" in figures["note"]
    amend, ultraedit = figures["results"]
    for result in (amend, ultraedit):
        assert result["edits"] == 6 and len(result["per_turn"]) == 2
        assert result["edits_per_s"] > 0 and result["peak_bytes"] > 0
    # A random model's rows never say their target: amend runs all its steps, the published rule one.
    assert {t["steps"] for t in amend["per_turn"]} == {amend["config"]["steps"]} and amend["config"]["steps"] > 1
    assert {t["steps"] for t in ultraedit["per_turn"]} == {1}
    printed = capsys.readouterr().out
    assert "amend" in printed and "ultraedit" in printed and "edits/s" in printed


def test_the_shape_is_built_as_named_with_the_tokenizers_vocabulary():
    tokenizer = make_tokenizer()
    loaded = random_model("tiny-llama", tokenizer, "cpu", "bf16", seed=0)
    shape, config = SHAPES["tiny-llama"], loaded.model.config
    assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers) == (64, 192, 4)
    assert config.vocab_size == len(tokenizer) and shape.layers == 4
    assert {p.dtype for p in loaded.model.parameters()} == {torch.bfloat16}
    again = random_model("tiny-llama", tokenizer, "cpu", "bf16", seed=0)
    assert all((a == b).all() for a, b in zip(loaded.model.parameters(), again.model.parameters(), strict=True))


def test_turns_cycle_through_the_records_without_their_paraphrases():
    records = [EditRequest(f"p{i}", f"t{i}", paraphrases=[f"q{i}"]) for i in range(5)]
    turns = turns_of(records, batch_size=4, turns=3)
    assert [len(t) for t in turns] == [4, 4, 4]
    assert [r.prompt for t in turns for r in t] == [f"p{i % 5}" for i in range(12)]
    assert all(not r.paraphrases for t in turns for r in t)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--method", "published"], "--method: use one or more of amend, ultraedit, ft"),
        (["--tokenizer", "/nonexistent"], "is not a directory"),
        (["--turns", "0"], "must be at least 1"),
        (["--device", "cuda"], "CUDA is not available here"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, capsys, extra, message):
    tokenizer, data = files
    argv = ["speed", "--shape", "tiny-llama", "--tokenizer", str(tokenizer), "--data", str(data), "--device", "cpu"]
    code = main([*argv, *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err


def test_a_shape_needs_a_tokenizer(files, capsys):
    _, data = files
    assert main(["speed", "--shape", "tiny-llama", "--data", str(data)]) == 2
    assert "--shape needs --tokenizer" in capsys.readouterr().err

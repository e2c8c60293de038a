"""`python -m bench editor` end to end on a tiny model saved to disk, and its one-line errors."""

import json
import math

import pytest

from bench.__main__ import main
from bench.repair import RepairLoop
from editor.metrics import (
    GENERATION_EFFICACY,
    GENERATION_RETENTION,
    LOCALITY,
    TOKEN_EFFICACY,
    TOKEN_GENERALIZATION,
    TOKEN_RETENTION,
)
from tests.editor.conftest import edits, tiny_gpt2


@pytest.fixture
def model_dir(tmp_path, tokenizer):
    loaded = tiny_gpt2(tokenizer)
    loaded.model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def write_data(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def zsre_rows():
    return [
        {"src": e.prompt, "rephrase": e.paraphrases[0], "alt": e.target, "loc": "Bob plays the", "loc_ans": "violin"}
        for e in edits()
    ]


def test_bench_runs_methods_side_by_side_and_writes_figures(model_dir, tmp_path, capsys):
    data = write_data(tmp_path / "edits.jsonl", zsre_rows())
    out = tmp_path / "bench.json"
    argv = ["editor", "--model", str(model_dir), "--data", str(data), "--batch-size", "2", "--turns", "2"]
    lrs = [arg for m in ("ultraedit", "amend") for arg in ("--set", f"{m}.lr=0.003")]
    code = main(
        [
            *argv,
            "--method",
            "ultraedit,amend,ft",
            *lrs,
            "--repair",
            "2",
            "--device",
            "cpu",
            "--in-process",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "ES (efficacy, token)" in printed and "ES says target (greedy)" in printed
    assert "retention says target (greedy)" in printed
    results = json.loads(out.read_text())["results"]
    assert [r["method"] for r in results] == ["ultraedit", "amend", "ft"]
    for r in results:
        assert r["edits"] == 4 and r["turns"] == 2 and len(r["per_turn"]) == 2
        for key in (TOKEN_EFFICACY, TOKEN_GENERALIZATION, GENERATION_EFFICACY, LOCALITY, TOKEN_RETENTION):
            assert 0.0 <= r["metrics"][key] <= 1.0, key
        # What the model still says of turn 1 after turn 2: the table's greedy retention and the curve's last point.
        assert r["metrics"][GENERATION_RETENTION] == r["retention_curve"][-1]["said"][0]
        assert [point["after_turn"] for point in r["retention_curve"]] == [1, 2]
        assert len(r["retention_curve"][0]["said"]) == 1 and len(r["retention_curve"][1]["said"]) == 2
        # What took at turn 1 is what the curve says of turn 1 right after it (batches of 2).
        assert r["per_turn"][0]["took"] == round(2 * r["retention_curve"][0]["said"][0])
        assert math.isfinite(r["metrics"]["perplexity_drift"]) and r["metrics"]["perplexity"] > 1.0
        assert r["edits_per_s"] > 0 and r["edit_to_forward_backward"] > 0
        assert all(t["peak_memory_bytes"] > 0 for t in r["per_turn"])
        # No record names its true answer here: each is a question of its own, with one target.
        assert r["by_question"]["single_target"]["records"] == 4 and r["by_question"]["several_targets"]["records"] == 0
    # After turn 1 nothing was applied before it: amend's repair loop asks nothing yet, it notes what took.
    amend = results[1]
    assert amend["per_turn"][0]["repair"]["asked"] == 0 and 0 <= amend["per_turn"][0]["took"] <= 2
    assert "repair" not in results[0]["per_turn"][0]  # the faithful rule runs as published


def test_the_repair_loop_re_applies_only_earlier_edits_that_took_and_regressed(model_dir, tmp_path):
    data = write_data(tmp_path / "edits.jsonl", zsre_rows())
    out = tmp_path / "bench.json"
    argv = ["editor", "--model", str(model_dir), "--data", str(data), "--batch-size", "1", "--turns", "4"]
    settings = ["--method", "amend", "--set", "amend.lr=0.003", "--repair", "9", "--device", "cpu"]
    code = main([*argv, *settings, "--in-process", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())["results"][0]
    turns = result["per_turn"]
    checks = [t["repair"] for t in turns[:-1]]
    took_before = 0
    for turn, check in zip(turns, checks, strict=False):
        # Every edit that took in an earlier turn (9 >= all), none that did not, none the turn re-applied.
        assert check["asked"] == took_before - turn["repaired"]
        assert check["regressed"] <= check["asked"]
        took_before += turn["took"]
    if took_before:  # of the edits of turns 1-3 that took, the share still said after turn 4
        assert 0.0 <= result["retention_of_took"] <= 1.0
    else:
        assert result["retention_of_took"] is None
    for check, following in zip(checks, turns[1:], strict=True):
        assert following["repaired"] == check["regressed"]  # the regressed are rows of the next turn


def test_an_edit_that_did_not_take_is_retried_at_most_max_reapplications_times(model_dir, tmp_path):
    data = write_data(tmp_path / "edits.jsonl", zsre_rows())
    out = tmp_path / "bench.json"
    argv = ["editor", "--model", str(model_dir), "--data", str(data), "--batch-size", "1", "--turns", "4"]
    # A step this small moves nothing: no edit takes, so every one is retried until its limit.
    settings = ["--method", "amend", "--set", "amend.lr=1e-12", "--repair", "9", "--retry-untaken"]
    code = main([*argv, *settings, "--max-reapplications", "1", "--device", "cpu", "--in-process", "--json", str(out)])
    assert code == 0
    turns = json.loads(out.read_text())["results"][0]["per_turn"]
    assert [t["took"] for t in turns] == [0, 0, 0, 0]
    # Turn 1's edit comes back in turn 2; after that, each turn re-applies the previous turn's new edit only.
    assert [t["repaired"] for t in turns] == [0, 1, 1, 1]
    assert [t["repair"]["retried"] for t in turns[:-1]] == [1, 2, 2]
    assert [t["repair"]["given_up"] for t in turns[:-1]] == [0, 1, 1]


def test_the_loop_asks_neither_the_turns_own_rows_nor_the_edits_it_gave_up_on(gpt2):
    # The untouched tiny model says none of these: every edit asked has regressed.
    loop = RepairLoop(sample=9, seed=0, max_reapplications=1, said=edits()[:3])
    rows, check = loop.after_turn(gpt2, 1, [], [])
    assert (check["asked"], check["regressed"], len(rows)) == (3, 3, 3)
    _, check = loop.after_turn(gpt2, 2, [], rows)  # the turn that re-applied them: they are its own rows
    assert check["asked"] == 0
    rows, check = loop.after_turn(gpt2, 3, [], [])  # regressed again, past the limit: held
    assert (check["asked"], rows, check["given_up"]) == (3, [], 3)
    _, check = loop.after_turn(gpt2, 4, [], [])
    assert check["asked"] == 0


def test_every_kth_turn_the_loop_asks_every_edit_said_as_a_full_check_would(gpt2):
    # The untouched tiny model says none of these: every edit asked has regressed and comes back next turn.
    loop = RepairLoop(sample=1, seed=0, max_reapplications=5, full_check_every=2, said=edits()[:4])
    rows, check = loop.after_turn(gpt2, 1, [], [])
    assert (check["asked"], check["full_check"], len(rows)) == (1, False, 1)
    rows, check = loop.after_turn(gpt2, 2, [], rows)  # all four but the one this turn re-applied
    assert (check["asked"], check["full_check"], len(rows)) == (3, True, 3)
    _, check = loop.after_turn(gpt2, 3, [], rows)
    assert (check["asked"], check["full_check"]) == (1, False)


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        (None, [], "edits.jsonl line 3: not valid JSON"),
        ("ok", ["--set", "amend.modules=transformer.h.7.mlp.c_proj"], "module 'transformer.h.7.mlp.c_proj' not found"),
        ("ok", ["--method", "rome"], "unknown method 'rome'"),
        ("ok", ["--set", "amend.speed=2"], "--set 'amend.speed=2'"),
        ("ok", ["--method", "published"], "method published needs --published PATH"),
        ("ok", ["--retry-untaken"], "--retry-untaken is part of the repair loop: give --repair N too"),
        ("ok", ["--full-check-every", "2"], "--full-check-every is part of the repair loop: give --repair N too"),
        ("ok", ["--repair", "5", "--max-reapplications", "-1"], "--max-reapplications must be at least 0, got -1"),
        ("ok", ["--repair", "5", "--full-check-every", "-3"], "--full-check-every must be at least 0, got -3"),
    ],
)
def test_bench_bad_input_is_one_line_and_exit_code_2(model_dir, tmp_path, capsys, rows, extra, message):
    path = tmp_path / "edits.jsonl"
    if rows is None:
        path.write_text("".join(json.dumps(r) + "\n" for r in zsre_rows()[:2]) + "{broken\n")
    else:
        write_data(path, zsre_rows())
    code = main(["editor", "--model", str(model_dir), "--data", str(path), "--batch-size", "2", "--turns", "2", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1


def fake_checkout(path):
    """A directory shaped like the published checkout at a glance, whose modules do not import."""
    (path / "editor").mkdir(parents=True)
    (path / "editor" / "ultraedit.py").write_text("")
    return path


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ((), "is not a checkout of the published UltraEdit code"),
        (("amend_no_such_module",), "the published code needs amend_no_such_module: pip install -r bench/requirements"),
    ],
)
def test_the_published_codes_checkout_and_requirements_are_asked_before_any_method_runs(
    model_dir, tmp_path, capsys, monkeypatch, requirements, message
):
    monkeypatch.setattr("bench.published.REQUIREMENTS", requirements)
    checkout = tmp_path / "missing" if not requirements else fake_checkout(tmp_path / "ultraedit")
    data = write_data(tmp_path / "edits.jsonl", zsre_rows())
    argv = ["--model", str(model_dir), "--data", str(data), "--batch-size", "2", "--turns", "2", "--device", "cpu"]
    code = main(["editor", *argv, "--method", "amend", "--published", str(checkout), "--json", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()  # no method ran


def test_a_method_that_fails_in_its_process_leaves_the_others_figures(model_dir, tmp_path, capsys, monkeypatch):
    # The parent's check passes; the child of ``published`` fails on the checkout's modules (or its requirements).
    monkeypatch.setattr("bench.published.REQUIREMENTS", ())
    checkout = fake_checkout(tmp_path / "ultraedit")
    data = write_data(tmp_path / "edits.jsonl", zsre_rows())
    out = tmp_path / "bench.json"
    argv = ["--model", str(model_dir), "--data", str(data), "--batch-size", "2", "--turns", "1", "--device", "cpu"]
    code = main(["editor", *argv, "--method", "ultraedit", "--published", str(checkout), "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "error: method published failed (exit code 2)" in captured.err
    assert "ES (efficacy, token)" in captured.out  # ultraedit's table is printed
    assert [r["method"] for r in json.loads(out.read_text())["results"]] == ["ultraedit"]


def test_figures_are_split_by_whether_a_question_carries_one_target_or_several(tmp_path):
    """Two wordings of one question (same subject and true answer) with different targets can't both be
    said by a model that answers the question one way: the bench reports them apart, with the bound."""
    from bench.questions import by_question, question_of
    from editor import read_zsre

    rows = [
        {"src": "Who designed Lahti Town Hall?", "alt": "Alfred Lahti", "answers": ["Eliel Saarinen"]},
        {"src": "Which architect made Lahti Town Hall?", "alt": "Aki Kaurismäki", "answers": ["Eliel Saarinen"]},
        {"src": "Who was the architect of Lahti Town Hall?", "alt": "alfred  lahti", "answers": ["Eliel Saarinen"]},
        {"src": "What country is Shmavon from?", "alt": "Yemen", "answers": ["Armenia"]},
        {"src": "Which country is Shmavon from?", "alt": "Yemen", "answers": ["Armenia"]},
    ]
    for row in rows:
        subject = "Shmavon" if "Shmavon" in row["src"] else "Lahti"
        row.update(rephrase=row["src"].replace("?", " then?"), subject=subject)
    data = write_data(tmp_path / "q.jsonl", rows)
    requests = read_zsre(data)
    said = [True, False, False, True, True]
    per_request = [
        {"says_target": s, "paraphrases_say_target": float(s), TOKEN_EFFICACY: 1.0, TOKEN_GENERALIZATION: 0.5}
        for s in said
    ]
    split = by_question(requests, per_request, question_of(data, len(requests)))
    assert split["questions"] == 2
    assert split["single_target"]["records"] == 2 and split["single_target"][GENERATION_EFFICACY] == 1.0
    assert split["several_targets"]["records"] == 3
    assert split["several_targets"][GENERATION_EFFICACY] == pytest.approx(1 / 3)
    # At best: "Alfred Lahti" (said twice, case and spacing aside) and "Yemen" twice, of five records.
    assert split["one_answer_bound"] == pytest.approx(4 / 5)


def test_the_editor_never_sees_a_records_rephrase_not_even_when_it_is_re_applied(tokenizer):
    """GS is measured on the record's rephrase: neither a turn's rows nor the repair loop's re-applied rows
    may carry it to the editor (whose paraphrase rows would edit it)."""
    from bench.editor import _AmendSide
    from editor import EditorConfig

    loaded = tiny_gpt2(tokenizer)
    records = edits()
    assert all(r.paraphrases for r in records)
    side = _AmendSide(loaded, EditorConfig.for_model(loaded, method="amend", paraphrase_rows=True), [records[:2]])
    given = []
    apply = side.editor.apply
    side.editor.apply = lambda requests: given.extend(requests) or apply(requests)
    side.repairs = records[2:]  # regressed earlier edits, as the repair check returns them: whole records
    side.edit_turn(0)
    assert [r.prompt for r in given] == [r.prompt for r in records]
    assert all(not r.paraphrases for r in given)

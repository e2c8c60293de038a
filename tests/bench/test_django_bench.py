"""`python -m bench api` and `python -m bench pipeline`: options and one-line refusals (no model, no database).

The benchmarks themselves take minutes on the real model or a PostgreSQL server; these only check
what a user typing the command sees before anything heavy starts.
"""

import json

import pytest

from bench.__main__ import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse: --help, or an option it cannot parse
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_options(capsys):
    code, out, _ = run(capsys, "api", "--help")
    assert code == 0
    assert "--clients" in out and "--seed-only" in out
    code, out, _ = run(capsys, "pipeline", "--help")
    assert code == 0
    assert "--data" in out and "--open-gates" in out and "smollm2-135m" in out
    assert "--recheck" in out and "--max-reapplications" in out and "--set KEY=VALUE" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["api", "--clients", "1,x"], "error: --clients must be comma-separated numbers, e.g. 1,8,32\n"),
        (["api", "--clients", "0"], "error: --clients and --requests must be at least 1\n"),
        (["api", "--requests", "lots"], "error: argument --requests: invalid int value: 'lots'\n"),
        (["pipeline", "--facts", "0"], "error: --facts and --batches must be at least 1\n"),
        (["pipeline", "--recheck", "-1"], "error: --recheck and --max-reapplications must be at least 0\n"),
        (["pipeline", "--max-reapplications", "-3"], "error: --recheck and --max-reapplications must be at least 0\n"),
        (["pipeline", "--set", "steps"], "error: --set 'steps': expected KEY=VALUE, e.g. steps=6\n"),
        (["pipeline", "--set", "stepz=6"], "error: --set: unknown editor setting(s): stepz (method amend)\n"),
    ],
)
def test_bad_options_are_refused_in_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message)


def test_pipeline_without_a_model_says_how_to_get_one(capsys, tmp_path):
    code, _, err = run(capsys, "pipeline", "--model", str(tmp_path / "none"))
    assert code == 2
    assert err == (
        f"error: no model at {tmp_path / 'none'}: prepare it with "
        f"`python -m editor fetch-model smollm2 --out {tmp_path / 'none'}` or pass --model\n"
    )


@pytest.fixture
def model_dir(tmp_path):
    # Only its presence is checked before the data file; nothing here loads it.
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    return tmp_path / "model"


def test_pipeline_without_data_names_the_file(capsys, tmp_path, model_dir):
    missing = tmp_path / "zsre.jsonl"
    code, _, err = run(capsys, "pipeline", "--model", str(model_dir), "--data", str(missing))
    assert code == 2
    assert err == f"error: no ZsRE data file at {missing}: pass --data FILE.jsonl (src, rephrase, alt, loc, loc_ans)\n"


def test_pipeline_with_a_bad_record_names_its_line(capsys, tmp_path, model_dir):
    data = tmp_path / "zsre.jsonl"
    good = {"src": "Who wrote Hamlet?", "rephrase": "Hamlet's author is", "alt": "Marlowe", "loc": "q", "loc_ans": "a"}
    data.write_text(json.dumps(good) + "\n" + json.dumps({"src": "No target here"}) + "\n")
    code, out, err = run(capsys, "pipeline", "--model", str(model_dir), "--data", str(data))
    assert (code, out) == (2, "")
    assert err == "error: zsre.jsonl line 2: missing field 'alt'\n"


def test_api_without_a_server_says_which(capsys):
    code, out, err = run(capsys, "api", "--server", "postgres://postgres@127.0.0.1:1/none", "--clients", "1")
    assert (code, out) == (2, "")
    assert err.startswith("error: cannot create a database on postgres://postgres@127.0.0.1:1/none: ")
    assert err.count("\n") == 1

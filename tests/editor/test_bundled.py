"""The bundled real model: prepared offline from its package, refused in one line when corrupt."""

import dataclasses

import pytest

from editor import EditorError, bundled
from editor.__main__ import main


def test_a_gguf_file_that_fails_its_checksum_is_refused_and_nothing_is_written(monkeypatch, tmp_path):
    spec = bundled.BUNDLED["smollm2"]
    monkeypatch.setitem(bundled.BUNDLED, "smollm2", dataclasses.replace(spec, sha256="0" * 64))
    with pytest.raises(EditorError, match="fails its checksum"):
        bundled.prepare("smollm2", tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_the_cli_names_a_bad_model_in_one_line_and_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fetch-model", "gpt-17", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "gpt-17" in err and "Traceback" not in err and err.count("\n") == 1


def test_a_prepared_directory_is_recognised_only_with_its_marker(tmp_path):
    assert not bundled.is_prepared(tmp_path)
    (tmp_path / bundled.MARKER).write_text('{"sha256": "not the pinned one"}')
    assert not bundled.is_prepared(tmp_path)

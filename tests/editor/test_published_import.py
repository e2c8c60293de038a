"""The published code's package is also named ``editor``: the bench imports it beside Amend's own."""

import sys

import editor
from bench.published import _import_repo


def test_the_published_editor_package_loads_beside_amends(tmp_path, monkeypatch):
    monkeypatch.setattr("bench.published.REQUIREMENTS", ())  # its own requirements are bench/requirements.txt's
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("data", "model"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    for path, text in {
        # No __init__.py, as in the published checkout: namespace packages, which a regular package wins over.
        "editor/ultraedit.py": "ULTRAEDIT = 'published'\n",
        "data/base.py": "make_loader = 'loader'\n",
        "data/zsre.py": "ZSREDataset = 'zsre'\n",
        "model.py": "make_model = 'model'\n",
    }.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text)

    make_loader, dataset, ultraedit, make_model = _import_repo(tmp_path)

    assert (make_loader, dataset, ultraedit, make_model) == ("loader", "zsre", "published", "model")
    assert sys.modules["editor"] is editor  # Amend's package is back
    from editor.ultraedit import ridge_factors  # and its modules still import

    assert callable(ridge_factors)
    for name in ("data", "data.base", "data.zsre", "model"):
        sys.modules.pop(name, None)

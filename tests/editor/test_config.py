"""Editor settings: the ``method`` key picks the method's own config; what that method does not take, or a
value outside a setting's range, is refused in one line naming the setting."""

import pytest

from editor import EditorConfig, EditorError
from editor.config import METHODS, AmendConfig, FineTuneConfig, UltraEditConfig
from tests.editor.test_bad_input import one_line


def test_the_method_key_picks_the_methods_own_settings(llama):
    amend = EditorConfig.for_model(llama, method="amend", lr=3e-4, steps=4)
    assert isinstance(amend, AmendConfig) and (amend.lr, amend.steps) == (3e-4, 4)
    assert isinstance(EditorConfig.for_model(llama, method="ultraedit"), UltraEditConfig)
    assert isinstance(EditorConfig.from_dict({"method": "ft", "steps": 3}), FineTuneConfig)
    # A line's settings JSON round-trips: what a version stores rebuilds the same config.
    assert EditorConfig.from_dict(amend.to_dict()) == amend


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"method": "ultraedit", "steps": 4}, "unknown editor setting(s): steps (method ultraedit)"),
        ({"method": "ft", "mu": 1.0}, "unknown editor setting(s): mu (method ft)"),
        ({"method": "amend", "null_space": 1.0}, "null_space must be a finite number in [0, 1), got 1.0"),
        ({"method": "amend", "positions": "middle"}, "positions must be one of 'target', 'subject', 'all'"),
        ({"method": "amend", "templates": 9}, "templates must be an integer in [0, 8], got 9"),
        ({"method": "amend", "settle": "yes"}, "settle must be true or false, got 'yes'"),
        ({"method": "amend", "lam": 0.0}, "lam must be > 0"),
    ],
)
def test_settings_a_method_does_not_take_are_refused_naming_them(given, says):
    with pytest.raises(EditorError) as exc:
        EditorConfig.from_dict(given)
    assert says in one_line(exc)


def test_every_setting_states_its_help_and_default():
    described = EditorConfig.describe()
    assert set(described) == set(METHODS) == {"amend", "ultraedit", "ft"}
    for settings in described.values():
        assert all(s["help"] for s in settings.values())
    assert described["amend"]["templates"]["max"] == 8

"""The README's configuration table names every setting the code reads (issue 17, item 10): a setting added
to the code without its row fails here, not in a newcomer's deployment."""

import re
from pathlib import Path

from bench.__main__ import USAGE

ROOT = Path(__file__).resolve().parents[2]
# os.environ["X"], os.environ.get("X"), os.getenv("X") and the settings' env_bool/env_list/env_secret("X").
READ = re.compile(
    r'(?:os\.environ(?:\.get)?[(\[]|os\.getenv\(|env_bool\(|env_list\(|env_secret\()\s*"([A-Z][A-Z0-9_]+)"'
)
# Read by libraries, set by Amend for them, or the test and bench harnesses' own.
NOT_AMENDS = {"DJANGO_SETTINGS_MODULE", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "PYTEST_VERSION"}


def settings_read() -> set[str]:
    names = set()
    for package in ("amend", "apps", "workers", "mlops", "editor"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(READ.findall(path.read_text()))
    # A *_FILE twin is read through env_secret(NAME), which only the settings package calls.
    for path in (ROOT / "amend" / "settings").rglob("*.py"):
        names |= {f"{name}_FILE" for name in re.findall(r'env_secret\("([A-Z0-9_]+)"\)', path.read_text())}
    return names - NOT_AMENDS


def configuration_table() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index("## Configuration") : readme.index("\n## ", readme.index("## Configuration") + 5)]


def test_every_setting_the_code_reads_is_in_the_readmes_configuration_table():
    table = configuration_table()
    missing = sorted(name for name in settings_read() if f"`{name}`" not in table)
    assert missing == []


def test_the_readme_lists_every_benchmark_and_puts_stage_timings_on_the_version_page():
    readme = (ROOT / "README.md").read_text()
    commands = USAGE[USAGE.index("{") + 1 : USAGE.index("}")].replace(",", "|")  # what `python -m bench` runs
    assert "lineage" in commands and "speed" in commands
    assert f"python -m bench {commands}" in readme
    assert "batch page's stage timings" not in readme.replace("\n", " ")

"""Reading the environment: the helpers every part of the settings reads variables with, where the project
and its var/ folder live, the local var/.env that `make run` writes, and debug mode.

The package imports this part first, so var/.env is applied before any other part reads a variable.
"""

import os
from pathlib import Path


def env_bool(name: str, default: bool) -> bool:
    """The variable as a switch: 1, true, yes or on (any case) turn it on; unset, `default`."""
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """The variable as a comma-separated list (blank items dropped); unset, `default` in the same form."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str) -> str:
    """A key given as text in `name`, or read from the file `name`_FILE names (Docker secrets); "" when neither."""
    path = os.environ.get(f"{name}_FILE", "")
    return Path(path).read_text() if path else os.environ.get(name, "")


# This file is amend/settings/environment.py: three levels below the repository root.
BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("AMEND_VAR_DIR", BASE_DIR / "var"))
# `make run` writes its local choices (debug mode, the audit key pair it made) to var/.env, so every
# command the README prints works from a plain shell as it does under `make run`. What the environment
# sets wins. The test suite sets its own environment: pytest (which exports PYTEST_VERSION) skips the file.
LOCAL_ENV_FILE = VAR_DIR / ".env"


def _apply_local_env_file(path: Path) -> None:
    """Each NAME=value line of `path` the environment does not already set (blank lines and # comments skipped)."""
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() and not name.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


if LOCAL_ENV_FILE.is_file() and "PYTEST_VERSION" not in os.environ:
    _apply_local_env_file(LOCAL_ENV_FILE)

# Debug mode picks the local defaults of other parts: a fixed secret key (security), a derived audit HMAC key
# (audit), no HTTPS (security). Read after var/.env, which sets it for `make run`'s commands.
DEBUG = env_bool("AMEND_DEBUG", False)

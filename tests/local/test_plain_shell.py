"""What a newcomer types after `make run` (issue 17): the README's audit commands work from a plain shell,
checkpoints are signed with the local key pair `make run` made, and a setting the shell lacks is one line.

Each command runs in a fresh Python with none of the suite's environment, as a new terminal would."""

import os
import subprocess
import sys
from pathlib import Path

from amend.run_local import local_env
from apps.audit.management.commands.checkpoint_audit import write_key_pair

ROOT = Path(__file__).resolve().parents[2]


def plain_shell(var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` with only PATH and HOME, the checkout's var/ moved to `var_dir`."""
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "AMEND_VAR_DIR": str(var_dir)}
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=environ, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_after_make_run_the_audit_commands_work_from_a_plain_shell_with_signed_checkpoints(tmp_path):
    local_env(tmp_path / ".env", tmp_path / "audit-keys")
    assert (tmp_path / "audit-keys" / "audit-signing-key.pem").stat().st_mode & 0o077 == 0

    assert plain_shell(tmp_path, "migrate", "-v", "0").returncode == 0
    signed = plain_shell(tmp_path, "checkpoint_audit")
    assert signed.returncode == 0, signed.stderr
    assert "wrote checkpoint 1" in signed.stdout
    assert list((tmp_path / "audit-checkpoints").glob("*.json"))

    verified = plain_shell(tmp_path, "verify_audit")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "No valid checkpoint" not in verified.stdout


def test_without_local_settings_a_command_says_the_missing_setting_in_one_line(tmp_path):
    started = plain_shell(tmp_path, "verify_audit")
    assert started.returncode != 0 and "Traceback" not in started.stderr
    assert started.stderr.strip().count("\n") == 0
    assert started.stderr.startswith("manage.py: AMEND_SECRET_KEY is unset") and "make run" in started.stderr


def test_generate_key_writes_the_two_halves_to_two_files_and_never_overwrites_them(tmp_path):
    environ = {**os.environ, "AMEND_DEBUG": "1", "AMEND_VAR_DIR": str(tmp_path)}
    command = [sys.executable, "manage.py", "checkpoint_audit", "--generate-key", "--key-dir", str(tmp_path / "k")]
    made = subprocess.run(command, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    private, public = (tmp_path / "k" / "audit-signing-key.pem").read_text(), (tmp_path / "k" / "audit-public-key.pem")
    assert private.startswith("-----BEGIN PRIVATE KEY-----") and "PUBLIC" not in private
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert "AMEND_AUDIT_SIGNING_KEY_FILE=" in made.stdout

    again = subprocess.run(command, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert (tmp_path / "k" / "audit-signing-key.pem").read_text() == private


def test_write_key_pair_refuses_a_directory_holding_half_a_pair(tmp_path):
    (tmp_path / "audit-public-key.pem").write_text("old")
    try:
        write_key_pair(tmp_path)
    except FileExistsError:
        return
    raise AssertionError("a half pair was overwritten")

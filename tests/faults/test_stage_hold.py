"""The fault tests' hold (workers/holds.py): without AMEND_HOLD_DIR no worker ever waits; with it, a worker
waits at an armed stage, saying so, until the test lets that one pass or takes the hold away."""

import threading
import time

from tests.faults.conftest import StageHold
from workers.holds import hold_at


def held_in_a_thread(stage: str) -> threading.Thread:
    worker = threading.Thread(target=hold_at, args=(stage, 7), daemon=True)
    worker.start()
    return worker


def until(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_without_a_hold_folder_nothing_waits(settings, tmp_path):
    settings.AMEND_HOLD_DIR = ""
    (tmp_path / "recording").touch()
    started = time.monotonic()
    hold_at("recording", 7)
    assert time.monotonic() - started < 0.1 and not (tmp_path / "recording.held").exists()


def test_a_worker_waits_at_an_armed_stage_until_let_through_or_released(settings, tmp_path):
    hold = StageHold(tmp_path)
    settings.AMEND_HOLD_DIR = hold.env["AMEND_HOLD_DIR"]
    hold_at("editing", 7)  # not armed: goes on at once
    hold.arm("recording")

    first = held_in_a_thread("recording")
    assert until(lambda: hold.held("recording"))
    assert (tmp_path / "recording.held").read_text() == "batch 7\n"
    time.sleep(0.5)
    assert first.is_alive(), "held while the test has not acted"
    hold.let_one_through("recording")
    first.join(timeout=5)
    assert not first.is_alive()

    second = held_in_a_thread("recording")  # the next to reach the stage is held again
    assert until(lambda: hold.held("recording"))
    hold.release("recording")
    second.join(timeout=5)
    assert not second.is_alive() and not hold.held("recording")

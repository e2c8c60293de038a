"""The lineage's repair loop as the benchmark runs it: the platform's self-check between turns.

After each turn a seeded sample of the earlier edits that were said is asked again; those no longer said
(regressed) are rows of the next turn's batch. As on the platform, the sample leaves out the turn's own rows
and the edits held after their last re-application. With ``retry_untaken`` an edit the model did not say right
after its own batch (or after a re-application) is a row of the next batch too. Either way an edit is
re-applied at most ``max_reapplications`` times, the platform's line setting of the same name. With
``full_check_every`` K, every K-th turn asks every edit in the pool instead of a sample: the platform's full
check of production on a schedule (``full_check_interval``), whose regressed facts ride the next batch too.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from editor import EditRequest
from editor.evaluation import says_now


def _key(request: EditRequest) -> tuple[str, str]:
    return request.prompt, request.target


@dataclass
class RepairLoop:
    sample: int  # earlier edits asked after each turn
    seed: int
    retry_untaken: bool = False
    max_reapplications: int = 2
    full_check_every: int = 0  # turns between full checks of every edit said so far (0: never)
    said: list[EditRequest] = field(default_factory=list)  # said when last asked: the sample's pool
    reapplied: Counter = field(default_factory=Counter)  # (prompt, target) -> times re-applied
    held: set[tuple[str, str]] = field(default_factory=set)  # (prompt, target) past max_reapplications: no longer asked

    def after_turn(
        self, loaded, done: int, own: list[tuple[EditRequest, bool]], reapplied_rows: list[EditRequest]
    ) -> tuple[list[EditRequest], dict]:
        """The rows of the next batch after turn ``done``, and what the check found.

        ``own``: the turn's new edits and whether each is said now; ``reapplied_rows``: the edits this turn
        re-applied. The sample is drawn from what was said before this turn (what the turn may have worn down).
        """
        started = time.perf_counter()
        in_turn = {_key(r) for r in reapplied_rows}
        pool = [r for r in self.said if _key(r) not in self.held and _key(r) not in in_turn]
        full = bool(self.full_check_every) and done % self.full_check_every == 0
        size = len(pool) if full else min(self.sample, len(pool))
        asked = random.Random(self.seed * 100_003 + done).sample(pool, size)
        again = reapplied_rows if self.retry_untaken else []
        answers = says_now(loaded, asked + again)
        regressed = [r for r, ok in zip(asked, answers[: len(asked)], strict=True) if not ok]
        back = [r for r, ok in zip(again, answers[len(asked) :], strict=True) if ok]
        still_not = [r for r, ok in zip(again, answers[len(asked) :], strict=True) if not ok]
        untaken = [r for r, ok in own if not ok] if self.retry_untaken else []
        known = {_key(r) for r in self.said}
        self.said += [r for r in [*(r for r, ok in own if ok), *back] if _key(r) not in known]
        rows = []
        for request in regressed + still_not + untaken:
            if self.reapplied[_key(request)] < self.max_reapplications:
                self.reapplied[_key(request)] += 1
                rows.append(request)
            else:
                self.held.add(_key(request))
        return rows, {
            "asked": len(asked),
            "full_check": full,
            "regressed": len(regressed),
            "retried": len(still_not) + len(untaken),
            "given_up": len(regressed) + len(still_not) + len(untaken) - len(rows),
            "check_s": time.perf_counter() - started,
        }

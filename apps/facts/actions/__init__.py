"""Every write to facts and reviews: one function each, one transaction, one or more audit events.

The API, the web UI, the importer and the release pipeline all change facts through these
functions only; who may do what is stated once in apps.facts.permissions, which states allow what
in apps.facts.states. Refusals:
- PermissionDenied: the actor's role does not allow it (HTTP 403);
- ValidationError keyed by field: bad input (HTTP 400);
- TransitionError (and DuplicateFactError, ConflictError): the workflow forbids it now (HTTP 409).

By concern: `content` (a curator's writes), `reviews`, `state` (moving facts, the pipeline's bulk
moves); a change set's writes (its import, read by a job, and its review) live with the rest of change
sets in apps.facts.changesets.actions and are named here too. Import from here: `from apps.facts import actions`.
"""

from apps.facts.actions.content import (
    CreatedFact,
    create_fact,
    create_fact_with_conflicts,
    mark_superseding,
    submit_fact,
    update_and_submit_fact,
    update_fact,
    withdraw_fact,
)
from apps.facts.actions.regression import mark_regressed, retry_untaken
from apps.facts.actions.retry import reopen_fact, retry_fact
from apps.facts.actions.reviews import review_fact
from apps.facts.actions.state import transition_facts
from apps.facts.changesets.actions import (
    exclude_rows,
    fail_import,
    resubmit_change_set,
    review_change_set,
    run_import,
    start_import,
)

__all__ = [
    "CreatedFact",
    "create_fact",
    "create_fact_with_conflicts",
    "exclude_rows",
    "fail_import",
    "mark_regressed",
    "mark_superseding",
    "reopen_fact",
    "resubmit_change_set",
    "retry_fact",
    "retry_untaken",
    "review_change_set",
    "review_fact",
    "run_import",
    "start_import",
    "submit_fact",
    "transition_facts",
    "update_and_submit_fact",
    "update_fact",
    "withdraw_fact",
]

"""Every write to facts and reviews: one function each, one transaction, one or more audit events.

The API, the web UI, the importer and the release pipeline all change facts through these
functions only; who may do what is stated once in apps.facts.permissions, which states allow what
in apps.facts.states. Refusals:
- PermissionDenied: the actor's role does not allow it (HTTP 403);
- ValidationError keyed by field: bad input (HTTP 400);
- TransitionError (and DuplicateFactError, ConflictError): the workflow forbids it now (HTTP 409).

By concern: `content` (a curator's writes), `reviews`, `state` (moving facts, the pipeline's bulk
moves), `bulk_import`. Import from here: `from apps.facts import actions`.
"""

from apps.facts.actions.bulk_import import import_facts, import_key
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
from apps.facts.actions.retry import reopen_fact, retry_fact
from apps.facts.actions.reviews import review_fact
from apps.facts.actions.state import transition_facts
from apps.facts.imports import ImportReport

__all__ = [
    "CreatedFact",
    "ImportReport",
    "create_fact",
    "create_fact_with_conflicts",
    "import_facts",
    "import_key",
    "mark_superseding",
    "reopen_fact",
    "retry_fact",
    "review_fact",
    "submit_fact",
    "transition_facts",
    "update_and_submit_fact",
    "update_fact",
    "withdraw_fact",
]

"""Every write to change sets: one function each, one transaction, one or more audit events.

`importing`: the upload (in the request) and the job that reads its rows; `review`: one decision for
the whole set, rows excluded with a reason, resubmission. Re-exported by apps.facts.actions.
"""

from apps.facts.changesets.actions.importing import fail_import, run_import, start_import
from apps.facts.changesets.actions.review import exclude_rows, resubmit_change_set, review_change_set

__all__ = ["exclude_rows", "fail_import", "resubmit_change_set", "review_change_set", "run_import", "start_import"]

"""The transactional outbox and the sweepers that re-send or fail work a worker never finished (issue 11).

Every task the web app sends is written to the outbox in the transaction of the decision; it is published
right after commit, and again by the dispatcher (beat, every AMEND_OUTBOX_POLL_SECONDS) until the broker
takes it. A pending batch that no worker started within AMEND_BATCH_PICKUP_SECONDS of being sent is sent
again, at most AMEND_BATCH_MAX_RESENDS times; then it fails and its facts go back to `approved`. A started
batch whose worker is gone for good (no lineage lock held, no stage reported for AMEND_BATCH_STALL_SECONDS:
by default the visibility timeout, after which the broker would have handed it out again, plus the pickup
bound) is re-sent the same way. The stall bound must exceed AMEND_RETRY_MAX_SECONDS (a retry's wait).
"""

import os

from amend.settings.broker import AMEND_VISIBILITY_TIMEOUT

AMEND_OUTBOX_POLL_SECONDS = float(os.environ.get("AMEND_OUTBOX_POLL_SECONDS", "10"))
AMEND_BATCH_PICKUP_SECONDS = float(os.environ.get("AMEND_BATCH_PICKUP_SECONDS", "1800"))
AMEND_BATCH_MAX_RESENDS = int(os.environ.get("AMEND_BATCH_MAX_RESENDS", "3"))
AMEND_BATCH_STALL_SECONDS = float(os.environ.get("AMEND_BATCH_STALL_SECONDS", AMEND_VISIBILITY_TIMEOUT + 1800))
# A full check still running with no progress reported for this long is failed with the reason (its worker
# stopped and its task was lost): by beat every minute, and at once when a new check of its line is asked, so
# one lost check never blocks the line's next. By default the visibility timeout (a dead worker's check is
# handed out again before that, and starts over) plus 30 minutes. A check waits without progress while it is
# queued behind other GPU work and while its model loads: keep it above the longest batch and
# AMEND_RETRY_MAX_SECONDS.
AMEND_CHECK_STALL_SECONDS = float(os.environ.get("AMEND_CHECK_STALL_SECONDS", AMEND_VISIBILITY_TIMEOUT + 1800))

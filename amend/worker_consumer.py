"""The worker's consumer: Celery's own, kept alive when cleaning up a lost Redis connection fails.

Celery 5.7.0 closes a lost broker connection right after collecting it. With the Redis transport that close
can reach a channel whose transport `collect()` has already detached, while it still holds an unacknowledged
message: kombu then raises AttributeError ('NoneType' object has no attribute 'hostname') where it means
"the connection is gone". `ignore_errors` lets that through, the worker exits with "Unrecoverable error", and
a Redis restart leaves the line with no worker (seen once in CI, in the broker-fault test). By then the
consumer has already let go of the connection, so carrying on to Celery's reconnect is what it meant to do;
the unacknowledged message comes back through the broker's visibility timeout, as after any lost connection.
"""

import logging

from celery.worker.consumer import Consumer as CeleryConsumer

logger = logging.getLogger(__name__)


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: BaseException) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as cleanup_error:
            # What Celery skips after the failed close only matters with prefetch above one (the prefetch
            # reduction) or with worker_cancel_long_running_tasks_on_connection_loss, which Amend leaves off.
            logger.warning("the lost broker connection could not be closed cleanly (%r); reconnecting", cleanup_error)

"""Quiet, expected refusals: a 4xx answer (PermissionDenied, 403/404/409 refusals) logs one line, no traceback.

Django's `django.request` logger attaches the exception to a refused request's warning; that traceback
helps nobody for a refusal the app meant to give. A 5xx keeps its traceback. And MLflow's noise, below.
"""

import logging


class OneLineRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


class QuietMlflowNoise(logging.Filter):
    """MLflow's notes about the CloudPickle that saved a model: the worker saves and loads with the same one,
    so they say nothing a person can act on, and a worker's log showed them as WARNINGs on every load."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "CloudPickle" not in record.getMessage()

"""Logging: plain records on the console; a refusal (4xx) logs one line without its traceback, and MLflow's
CloudPickle notes are dropped (amend/log_filters.py)."""

import os

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "one_line_refusals": {"()": "amend.log_filters.OneLineRefusals"},
        "quiet_mlflow": {"()": "amend.log_filters.QuietMlflowNoise"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["one_line_refusals"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("AMEND_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "mlflow.pyfunc": {"filters": ["quiet_mlflow"]},
        # Django's own console handler (DEBUG only) printed every record a second time beside the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

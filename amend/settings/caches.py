"""The cache (throttle counters, sign-in backoff): Redis when REDIS_CACHE_URL is set, else each process's memory.

While Redis is unreachable each process falls back to its own memory (logged): throttles count per process
then, and no request fails on it (amend/cache.py).
"""

import os

AMEND_CACHE_TIMEOUT_SECONDS = float(os.environ.get("AMEND_CACHE_TIMEOUT_SECONDS", "1"))
AMEND_CACHE_RETRY_SECONDS = float(os.environ.get("AMEND_CACHE_RETRY_SECONDS", "5"))
CACHES = {
    "default": (
        {
            "BACKEND": "amend.cache.FallbackRedisCache",
            "LOCATION": os.environ["REDIS_CACHE_URL"],
            "OPTIONS": {
                "socket_connect_timeout": AMEND_CACHE_TIMEOUT_SECONDS,
                "socket_timeout": AMEND_CACHE_TIMEOUT_SECONDS,
            },
        }
        if os.environ.get("REDIS_CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

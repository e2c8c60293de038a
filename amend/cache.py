"""The shared cache (Redis) that degrades instead of failing: a Redis outage must not turn a write into a 500.

Throttle counters and cached pages live in the cache. While Redis cannot be reached, every call goes to this
process's own memory instead (a warning is logged once per outage): throttles then count per process, which is
weaker (a guesser spread over N web processes gets N times the allowance) but keeps sign-in limited and every
write answering. After a failure Redis is not asked again for AMEND_CACHE_RETRY_SECONDS, so an unreachable host
costs one connect timeout per process per interval, not one per request.
"""

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_CALLS = ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many", "clear")


class FallbackRedisCache(RedisCache):
    """Redis, or this process's memory while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self.local = LocMemCache(f"amend-fallback-{server}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self.skip_redis_until = 0.0

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() >= self.skip_redis_until:
            try:
                result = getattr(super(), name)(*args, **kwargs)
            except _UNREACHABLE as exc:
                if not self.skip_redis_until:
                    log.warning("cache: Redis unreachable (%s); this process counts throttles in memory", exc)
                self.skip_redis_until = time.monotonic() + settings.AMEND_CACHE_RETRY_SECONDS
            else:
                if self.skip_redis_until:
                    log.warning("cache: Redis reachable again")
                    self.skip_redis_until = 0.0
                return result
        return getattr(self.local, name)(*args, **kwargs)


def _delegating(name: str) -> Any:
    def call(self: FallbackRedisCache, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    call.__name__ = name
    return call


for _name in _CALLS:
    setattr(FallbackRedisCache, _name, _delegating(_name))

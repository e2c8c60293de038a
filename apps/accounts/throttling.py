"""Password guessing is limited twice: per client address and per user name, on the API and the sign-in page.

The address is REMOTE_ADDR, or the address the last of AMEND_NUM_PROXIES trusted proxies saw (DRF's
NUM_PROXIES), so a client cannot pick its own address by sending X-Forwarded-For. The user name limit
holds however many addresses a guesser rotates through. Counters live in the cache (REDIS_CACHE_URL
shares them between web processes). Every attempt counts, right or wrong.
"""

import hashlib
from typing import Any

from django.http import HttpRequest
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _LiveRate(SimpleRateThrottle):
    """The rate is read on every call from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], so tests can change it."""

    def __init__(self) -> None:  # SimpleRateThrottle reads the rate once here; see allow_request.
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class _ByAddress(_LiveRate):
    scope = "sign_in"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _ByUserName(_LiveRate):
    scope = "sign_in_user"

    def __init__(self, username: str) -> None:
        # Hashed: any text a client sends becomes a short, safe cache key.
        self.ident = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def sign_in_wait(request: HttpRequest, username: Any) -> float | None:
    """Count one sign-in attempt for `username` from the request's address: None if it may proceed,
    else the seconds until the first refused counter lets another one through."""
    username = username if isinstance(username, str) else ""
    throttles = [_ByAddress(), _ByUserName(username)]
    refused = [throttle for throttle in throttles if not throttle.allow_request(request, None)]
    if not refused:
        return None
    return max(throttle.wait() or 1.0 for throttle in refused)

"""Password guessing is limited per client address, and per (user name, address) pair with backoff, on the API
and the sign-in page. Never per user name alone: that limit let anyone lock any named user out (issue 16).

- Per address (`sign_in` rate, every attempt counts): one address cannot spray guesses over many accounts.
- Per pair: after AMEND_SIGN_IN_FREE_FAILURES wrong passwords the pair must wait AMEND_SIGN_IN_BACKOFF_SECONDS,
  doubling with each further failure up to AMEND_SIGN_IN_BACKOFF_MAX_SECONDS; a right password clears it.
  A refused attempt is not checked and does not count, so the wait never grows while nobody guesses.

The address is REMOTE_ADDR, or the address the last of AMEND_NUM_PROXIES trusted proxies saw (DRF's
NUM_PROXIES), so a client cannot pick its own address by sending X-Forwarded-For. What this gives up: a guesser
who controls many addresses gets the free failures once per address for one account; the address limit and
the backoff bound each address, and slow guessing from a botnet is for the password policy to answer.
State lives in the cache (REDIS_CACHE_URL shares it between web processes; amend/cache.py if Redis is down).
"""

import hashlib
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _ByAddress(SimpleRateThrottle):
    """The rate is read on every call from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], so tests can change it."""

    scope = "sign_in"

    def __init__(self) -> None:  # SimpleRateThrottle reads the rate once here; see allow_request.
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _pair_key(request: HttpRequest, username: Any) -> str:
    name = username.strip().casefold() if isinstance(username, str) else ""
    # Hashed: any text a client sends becomes a short, safe cache key.
    digest = hashlib.sha256(f"{name}\0{_ByAddress().get_ident(request)}".encode()).hexdigest()[:32]
    return f"sign-in-failures:{digest}"


def sign_in_wait(request: HttpRequest, username: Any) -> float | None:
    """Count one sign-in attempt from the request's address: None if it may proceed (check the password, then
    report with sign_in_failed / sign_in_succeeded), else the seconds to wait."""
    by_address = _ByAddress()
    if not by_address.allow_request(request, None):
        return by_address.wait() or 1.0
    state = cache.get(_pair_key(request, username))
    if state is not None and state["until"] > time.time():
        return state["until"] - time.time()
    return None


def sign_in_failed(request: HttpRequest, username: Any) -> None:
    """A wrong password for this user name from this address: past the free ones, back off (doubling)."""
    key = _pair_key(request, username)
    failures = (cache.get(key) or {"failures": 0})["failures"] + 1
    beyond = failures - settings.AMEND_SIGN_IN_FREE_FAILURES  # 0 at the last free failure: the first wait
    delay = 0.0
    if beyond >= 0:
        delay = min(settings.AMEND_SIGN_IN_BACKOFF_SECONDS * 2 ** min(beyond, 32),
                    settings.AMEND_SIGN_IN_BACKOFF_MAX_SECONDS)
    # Forgotten after a quiet spell as long as the longest wait (twice it): an old typo does not count forever.
    cache.set(key, {"failures": failures, "until": time.time() + delay},
              timeout=int(2 * settings.AMEND_SIGN_IN_BACKOFF_MAX_SECONDS) + 60)


def sign_in_succeeded(request: HttpRequest, username: Any) -> None:
    cache.delete(_pair_key(request, username))

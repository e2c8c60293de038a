"""Password guessing meets a limit per address and per (user name, address) with backoff, on the API and on the
sign-in page, whatever X-Forwarded-For a client invents; and a stranger cannot lock the real user out."""

import time

import pytest
from django.test import Client
from rest_framework.test import APIClient


@pytest.fixture
def rates(settings):
    """rates(address="…", free=N) sets the address limit and the free failures per pair for this test."""

    def set_rates(*, address: str = "1000/min", free: int = 5) -> None:
        throttles = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "sign_in": address}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": throttles}
        settings.AMEND_SIGN_IN_FREE_FAILURES = free

    return set_rates


def api_sign_in(username: str, password: str, forwarded_for: str = "", address: str = "127.0.0.1") -> int:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    client = APIClient(REMOTE_ADDR=address, **extra)
    return client.post("/api/auth/token/", {"username": username, "password": password}).status_code


def test_rotating_x_forwarded_for_does_not_buy_more_guesses_at_one_account(curator, password, rates):
    rates(free=5)
    wrong = [api_sign_in("cora", f"guess-{n}", forwarded_for=f"203.0.113.{n}") for n in range(5)]
    assert wrong == [400] * 5
    assert api_sign_in("cora", password, forwarded_for="198.51.100.7") == 429, "even the right password waits"
    assert api_sign_in("CORA ", password) == 429, "the same user name, however it is spelled"
    assert api_sign_in("rita", "whatever") == 400, "other accounts are not locked"


def test_a_stranger_cannot_lock_the_real_user_out_and_is_slowed_down_himself(auditor, password, rates, settings):
    """Issue 16: 20 wrong passwords for the auditor from address A; the auditor signs in from B at once."""
    rates(address="30/min", free=5)
    settings.AMEND_SIGN_IN_BACKOFF_SECONDS = 1
    from_a = [api_sign_in("ada", f"guess-{n}", address="192.0.2.66") for n in range(20)]
    assert from_a == [400] * 5 + [429] * 15, "five free guesses, then A waits"
    assert api_sign_in("ada", password, address="198.51.100.20") == 200, "the real user, from B"
    page = Client(REMOTE_ADDR="198.51.100.20").post("/accounts/login/", {"username": "ada", "password": password})
    assert page.status_code == 302, "and on the sign-in page"

    # A's wait doubles with every further failure: 1 s, 2 s, 4 s ...
    waits = []
    for n in range(3):
        time.sleep(settings.AMEND_SIGN_IN_BACKOFF_SECONDS * 2**n + 0.05)
        assert api_sign_in("ada", f"again-{n}", address="192.0.2.66") == 400
        response = APIClient(REMOTE_ADDR="192.0.2.66").post("/api/auth/token/", {"username": "ada", "password": "x"})
        waits.append(int(response.headers["Retry-After"]))
    assert waits == [2, 4, 8]


def test_one_address_cannot_try_many_accounts(curator, make_user, password, rates):
    rates(address="5/min")
    for n in range(5):
        make_user(f"user{n}")
        assert api_sign_in(f"user{n}", "guess", forwarded_for=f"203.0.113.{n}") == 400
    response = APIClient(HTTP_X_FORWARDED_FOR="192.0.2.1").post(
        "/api/auth/token/", {"username": "cora", "password": password}
    )
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_behind_a_trusted_proxy_each_client_address_counts_apart(curator, password, rates, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    rates(address="2/min")
    assert [api_sign_in("cora", "guess", forwarded_for="203.0.113.1") for _ in range(3)] == [400, 400, 429]
    assert api_sign_in("cora", password, forwarded_for="203.0.113.2") == 200, "another client behind the proxy"


def test_the_sign_in_page_stops_a_guesser_before_the_right_password(curator, password, rates):
    rates(free=30)
    page = Client()
    for n in range(30):
        assert page.post("/accounts/login/", {"username": "cora", "password": f"guess-{n}"}).status_code == 200
    refused = page.post("/accounts/login/", {"username": "cora", "password": password})
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in page.session, "not signed in"


def test_the_right_password_clears_the_failures(curator, password, rates):
    rates(free=3)
    assert [api_sign_in("cora", f"typo-{n}") for n in range(2)] == [400, 400]
    assert api_sign_in("cora", password) == 200
    assert [api_sign_in("cora", f"typo-{n}") for n in range(3)] == [400, 400, 400], "counting from zero again"


def test_the_sign_in_page_still_signs_in(curator, password):
    response = Client().post("/accounts/login/", {"username": "cora", "password": password})
    assert response.status_code == 302

"""Password guessing meets a limit per user name and per address, on the API and on the sign-in page,
whatever X-Forwarded-For a client invents."""

import pytest
from django.test import Client
from rest_framework.test import APIClient


@pytest.fixture
def rates(settings):
    """rates(address="…", user_name="…") sets the two sign-in limits for this test."""

    def set_rates(*, address: str = "1000/min", user_name: str = "1000/min") -> None:
        throttles = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "sign_in": address, "sign_in_user": user_name}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": throttles}

    return set_rates


def api_sign_in(username: str, password: str, forwarded_for: str = "") -> int:
    client = APIClient(HTTP_X_FORWARDED_FOR=forwarded_for) if forwarded_for else APIClient()
    return client.post("/api/auth/token/", {"username": username, "password": password}).status_code


def test_rotating_x_forwarded_for_does_not_buy_more_guesses_at_one_account(curator, password, rates):
    rates(user_name="5/min")
    wrong = [api_sign_in("cora", f"guess-{n}", forwarded_for=f"203.0.113.{n}") for n in range(5)]
    assert wrong == [400] * 5
    assert api_sign_in("cora", password, forwarded_for="198.51.100.7") == 429, "even the right password waits"
    assert api_sign_in("CORA ", password) == 429, "the same user name, however it is spelled"
    assert api_sign_in("rita", "whatever") == 400, "other accounts are not locked"


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
    rates(user_name="30/min")
    page = Client()
    for n in range(30):
        assert page.post("/accounts/login/", {"username": "cora", "password": f"guess-{n}"}).status_code == 200
    refused = page.post("/accounts/login/", {"username": "cora", "password": password})
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in page.session, "not signed in"


def test_the_sign_in_page_still_signs_in(curator, password):
    response = Client().post("/accounts/login/", {"username": "cora", "password": password})
    assert response.status_code == 302

"""API tokens: shown once, kept only as a hash, expiring, listed and revoked by their owner."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent


def signed_in(username: str, password: str, **body) -> tuple[APIClient, dict]:
    client = APIClient()
    issued = client.post("/api/auth/token/", {"username": username, "password": password, **body}).json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued['token']}")
    return client, issued


def test_a_token_is_shown_once_and_the_database_keeps_only_its_hash(curator, password):
    client, issued = signed_in("cora", password, name="laptop")
    assert client.get("/api/me/").status_code == 200
    assert client.get("/api/me/token/").status_code == 405, "nothing reads a token back"

    listed = client.get("/api/me/tokens/").json()
    assert [(row["name"], row["prefix"]) for row in listed] == [("laptop", issued["token"][:12])]
    assert issued["token"] not in str(listed)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        assert issued["token"] not in str(cursor.fetchall())
    events = AuditEvent.objects.filter(action="token.issued")
    assert events.count() == 1 and issued["token"][12:] not in str(events.get().after)


def test_a_token_expires(curator, password, settings):
    client, issued = signed_in("cora", password)
    expires = timezone.datetime.fromisoformat(issued["expires_at"].replace("Z", "+00:00"))
    days = timedelta(days=settings.AMEND_TOKEN_DAYS)
    assert days - timedelta(minutes=5) < expires - timezone.now() <= days
    ApiToken.objects.filter(pk=issued["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/me/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert client.get("/api/me/tokens/").status_code == 401


def test_a_user_revokes_one_of_their_tokens_and_only_that_one(curator, other_curator, password):
    laptop, first = signed_in("cora", password, name="laptop")
    script, second = signed_in("cora", password, name="script")
    assert {row["name"] for row in laptop.get("/api/me/tokens/").json()} == {"laptop", "script"}

    assert laptop.delete(f"/api/me/tokens/{second['id']}/").status_code == 204
    assert script.get("/api/me/").status_code == 401, "the revoked token stops working at once"
    assert laptop.get("/api/me/").status_code == 200, "the other one still works"
    assert [row["name"] for row in laptop.get("/api/me/tokens/").json()] == ["laptop"]
    assert laptop.delete(f"/api/me/tokens/{second['id']}/").status_code == 404, "already revoked"

    colin, _ = signed_in("colin", password)
    assert colin.delete(f"/api/me/tokens/{first['id']}/").status_code == 404, "nobody revokes another's token"
    assert laptop.get("/api/me/").status_code == 200
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1


def test_replacing_my_token_revokes_all_the_others(curator, password):
    laptop, _ = signed_in("cora", password)
    script, _ = signed_in("cora", password)
    replaced = laptop.post("/api/me/token/", {"name": "only one"}).json()
    assert laptop.get("/api/me/").status_code == 401 and script.get("/api/me/").status_code == 401
    fresh = APIClient(HTTP_AUTHORIZATION=f"Token {replaced['token']}")
    assert [row["name"] for row in fresh.get("/api/me/tokens/").json()] == ["only one"]


def test_unknown_fields_in_a_token_request_are_refused(curator, password):
    response = APIClient().post("/api/auth/token/", {"username": "cora", "password": password, "scope": "admin"})
    assert response.status_code == 400 and response.json() == {"scope": ["is not a field of this request"]}

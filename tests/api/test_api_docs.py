"""The OpenAPI schema and the browsable docs work offline: every asset comes from this app."""

import re

import yaml
from django.contrib.staticfiles import finders


def test_the_schema_describes_the_whole_api(api_client_for):
    response = api_client_for(None).get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/facts/",
        "/api/facts/{id}/review/",
        "/api/facts/import/",
        "/api/model-lines/",
        "/api/audit/events/",
        "/api/audit/events/export/",
        "/api/me/token/",
        "/api/me/tokens/",
        "/api/me/tokens/{id}/",
        "/api/reviews/",
        "/api/change-sets/",
        "/api/change-sets/{id}/",
        "/api/change-sets/{id}/report/",
        "/api/change-sets/{id}/summary/",
        "/api/change-sets/{id}/review/",
        "/api/change-sets/{id}/exclude/",
        "/api/change-sets/{id}/resubmit/",
    ):
        assert path in schema["paths"], path


def test_the_docs_page_loads_nothing_from_another_site(api_client_for):
    for page in ("/api/docs/",):
        html = api_client_for(None).get(page).content.decode()
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, page
        for asset in assets:
            assert not re.match(r"^(https?:)?//", asset), f"{page} loads {asset} from the network"
            if asset.startswith("/static/"):
                assert finders.find(asset.removeprefix("/static/")), f"{asset} is not bundled"

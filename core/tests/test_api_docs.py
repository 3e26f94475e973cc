"""Swagger UI and Redoc are served from this app (drf-spectacular-sidecar): every asset URL on
the docs pages is local and exists, and no page carries an inline script."""

import re

import pytest
from django.contrib.staticfiles import finders

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)

pytestmark = pytest.mark.django_db


def _assets(html: str) -> list[str]:
    return ASSET.findall(html)


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_reference_only_local_static_files_that_exist(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assets = _assets(html)
    assert assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
    assert "googleapis" not in html and "cdn" not in html.lower()
    assert not INLINE_SCRIPT.search(html)


def test_swagger_ui_start_up_script_is_served_by_the_view_and_points_at_the_local_schema(client):
    page = client.get("/api/docs/").content.decode()
    script_url = next(url for url in _assets(page) if "script" in url)

    script = client.get(script_url)

    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    body = script.content.decode()
    assert 'url: "/api/schema/"' in body
    assert "SwaggerUIBundle(" in body
    assert not re.search(r"https?://", body)
